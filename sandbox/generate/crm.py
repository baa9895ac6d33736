"""The HubSpot side of the generated world: deals and their contacts, with the traces of the channel each deal
came from.

HubSpot: deals created over the ``HISTORY_DAYS`` days before today (every instant is before today 00:00 UTC,
the dataset's "now"). ``PINTEREST_PAID_SHARE`` carry an ``epik`` and were created 0-7 days after a click on an ad
that delivered that day (picked by spend); ``PINTEREST_ORGANIC_SHARE`` have ``utm_source`` pinterest and no epik;
the rest come from ``OTHER_CHANNEL_WEIGHTS`` (Meta deals sometimes reuse a Pinterest campaign name as
``utm_campaign``). Deals last ``CYCLE_DAYS``: when the cycle has ended a deal is won (``WON_SHARE``), lost
(``LOST_SHARE``) or stalled open. Won deals are in a closed-won stage with ``hs_v2_date_entered_<stage>`` = won
time = ``closedate``, except ``REP_SET_CLOSEDATE_SHARE`` whose closedate is a rep-typed UTC midnight of the won
day or of up to 2 days before. Open deals sit in the stage their age reaches and carry an expected ``closedate``
(possibly in the future) on ``OPEN_CLOSEDATE_SHARE``. ``EPOCH_MS_SHARE`` of deals (API imports) have
epoch-millisecond strings for closedate and stage entry times; every other datetime is ISO-8601 with ms and Z.
``WHOLESALE_SHARE`` are in the "Wholesale" pipeline. EUR deals belong to FR/DE contacts;
``amount_in_home_currency`` = amount x ``EUR_TO_USD``. ``MERGED_DEAL_SHARE`` survivors list 1-2 merged-away ids
(ids that exist nowhere) in ``hs_merged_object_ids``; ``ARCHIVED_DEAL_SHARE`` are archived. Deals created before
the CRM migration (``MIGRATED_BEFORE_DAYS`` ago) carry a Salesforce-style legacy id. IP address and user agent
(documentation-range IPs) are on ``IP_UA_SHARE`` of paid deals and ``IP_UA_OTHER_SHARE`` of other web deals.

Contacts: ``DEAL_CONTACT_WEIGHTS`` (none / 1 new / 2 new / a repeat customer's existing contact). Emails missing
on ``EMAIL_MISSING_SHARE``, upper-case or padded with spaces on ``EMAIL_MESSY_SHARE``; phones in national formats
of the contact's country (fictional ranges: US 555-01xx, FR 01 99 00, DE 030 23125, GB 020 7946 0), missing on
``PHONE_MISSING_SHARE``; ``country`` (free text) says which national format applies. Addresses (``city``, ``state``,
``zip``) from ``ADDRESSES``, typed the way people do on ``ADDRESS_MESSY_SHARE`` ("São Paulo ", "ca", "94105-1234",
"California"), missing on ``ADDRESS_MISSING_SHARE``; ``gender`` and ``date_of_birth`` (a form's answers, free text,
sometimes unusable) on ``PROFILE_SHARE``. These come from a random stream of their own per contact, so the rest of
the world is drawn as before they existed. The consent property is a
**contact** property (enumeration granted/denied, plus the legacy true/false of an old form), drawn from
``CONSENT_WEIGHTS``: denied = "denied" or "false".

First touch: ``FIRST_TOUCH_SHARE`` of web deals carry ``first_touch_*`` properties (the site's tracking of the first
visit); on ``FIRST_TOUCH_DIFFERS_SHARE`` of those the first touch is another than the last: an earlier paid click on
an ad picked by spend (another campaign or another ad than the last click's; before a Google, Meta or email last
touch too), or, before a paid last click, an organic Pin; the others repeat the last touch. Drawn from a random stream
of their own per deal, so the rest of the world is as before they existed.

Unset properties are left out of ``properties`` (the API shows a requested unset property as null).
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import random
import string
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from sandbox.generate.clock import DAY_MS, _Clock, _iso
from sandbox.generate.config import SITE
from sandbox.generate.knobs import (
    ADDITIONAL_EMAIL_SHARE,
    ARCHIVED_DEAL_SHARE,
    CLICK_TO_LEAD_MAX_DAYS,
    CONSENT_WEIGHTS,
    COUNTRY_WEIGHTS,
    CYCLE_DAYS,
    DEAL_CONTACT_WEIGHTS,
    EMAIL_MESSY_SHARE,
    EMAIL_MISSING_SHARE,
    EPOCH_MS_SHARE,
    EUR_TO_USD,
    FIRST_TOUCH_DIFFERS_SHARE,
    FIRST_TOUCH_SHARE,
    HISTORY_DAYS,
    IP_UA_OTHER_SHARE,
    IP_UA_SHARE,
    LOST_SHARE,
    MERGED_DEAL_SHARE,
    MIGRATED_BEFORE_DAYS,
    MOBILE_SHARE,
    OPEN_CLOSEDATE_SHARE,
    OTHER_CHANNEL_WEIGHTS,
    PHONE_MISSING_SHARE,
    PINTEREST_ORGANIC_SHARE,
    PINTEREST_PAID_SHARE,
    REP_SET_CLOSEDATE_SHARE,
    WHOLESALE_SHARE,
    WON_SHARE,
)
from sandbox.generate.pinterest import _Ad, _PinterestWorld
from sandbox.generate.portal import PIPELINES, PROPERTIES
from sandbox.generate.weighted import _Weighted

PRODUCTS = ("Sofa order", "Dining set", "Bedroom suite", "Outdoor lounge", "Office fit-out", "Kitchen remodel")
NAMES = {
    "US": (
        ("James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "Sarah", "Daniel", "Emily"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "O'Brien"),
    ),
    "FR": (
        ("Hélène", "Camille", "Léa", "Julien", "Mathieu", "Chloé", "Antoine", "Manon", "Élodie", "Nicolas"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent", "Girard", "Roux", "Fournier", "Mercier"),
    ),
    "DE": (
        ("Jürgen", "Anna", "Lukas", "Sophie", "Maximilian", "Lena", "Jonas", "Marie", "Felix", "Katharina"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schäfer", "Koch"),
    ),
    "GB": (
        ("Oliver", "Amelia", "Harry", "Isla", "George", "Ava", "Jack", "Freya", "Charlie", "Grace"),
        ("Taylor", "Evans", "Thomas", "Roberts", "Walker", "Wright", "Hughes", "Edwards", "Clarke", "Turner"),
    ),
}
COUNTRY_LABELS = {
    "US": ("United States", "United States", "USA"),
    "FR": ("France",),
    "DE": ("Germany", "Deutschland"),
    "GB": ("United Kingdom",),
}
# (city, state, ZIP code) per country; then the ways people type them.
ADDRESSES = {
    "US": (("San Francisco", "CA", "94105"), ("New York", "NY", "10001"), ("Austin", "TX", "78701"),
           ("Chicago", "IL", "60601"), ("Seattle", "WA", "98101"), ("St. Louis", "MO", "63101")),
    "FR": (("Paris", None, "75008"), ("Lyon", None, "69002"), ("Saint-Étienne", None, "42000")),
    "DE": (("Berlin", None, "10117"), ("München", None, "80331"), ("Köln", None, "50667")),
    "GB": (("London", None, "SW1A 1AA"), ("Manchester", None, "M1 1AE")),
}  # fmt: skip
US_STATE_NAMES = {"CA": "California", "NY": "New York", "TX": "Texas", "IL": "Illinois", "WA": "Washington",
                  "MO": "Missouri"}  # fmt: skip
MESSY_CITIES = ("São Paulo ",)  # a contact who moved: its city is not in its country's list
GENDERS = ("female", "male", "F", "M", "non-binary", "prefer not to say")
ADDRESS_MISSING_SHARE, ADDRESS_MESSY_SHARE, PROFILE_SHARE = 0.20, 0.25, 0.30
EMAIL_DOMAINS = {
    "US": ("example.com", "example.net", "example.org"),
    "FR": ("example.fr", "example.com"),
    "DE": ("example.de", "example.com"),
    "GB": ("example.co.uk", "example.com"),
}
US_AREA_CODES = ("212", "312", "415", "512", "617", "206", "303", "404", "646", "718", "773", "818")
USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "[Pinterest/iOS]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.6422.165 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
    "Safari/537.36 [Pinterest/Android]",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
)
URL_SAFE = string.ascii_letters + string.digits + "-_"
BASE62 = string.ascii_letters + string.digits


def _number(value: float) -> str:
    """A number as HubSpot prints it: no trailing zeros, no exponent ("1250.5", "1200")."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().replace("'", "")


@dataclass
class _Pipeline:
    id: str
    open_stages: list[str]
    won: str
    lost: str


_PIPELINES = [_Pipeline(pid, [s[0] for s in stages[:-2]], stages[-2][0], stages[-1][0]) for pid, _, stages in PIPELINES]
_STAGE_PROPERTY = {s[0]: f"hs_v2_date_entered_{s[0]}" for _, _, stages in PIPELINES for s in stages}
_P = PROPERTIES


class _Crm:
    """Deals and contacts, built in creation order so ids grow with time as HubSpot's do."""

    def __init__(self, rng: random.Random, clock: _Clock, pinterest: _PinterestWorld) -> None:
        self.rng, self.clock, self.pinterest = rng, clock, pinterest
        self.deals: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.won: list[int] = []  # indexes into deals
        self.paid: list[int] = []
        self._contact_pool: list[tuple[str, str]] = []  # (id, country) of every contact so far
        self._deal_ids = rng.randrange(14_000_000_000, 15_000_000_000)
        self._contact_ids = rng.randrange(51_000_000_000, 52_000_000_000)
        self._migrated_before = clock.now_ms - MIGRATED_BEFORE_DAYS * DAY_MS
        self._other_channel = _Weighted(OTHER_CHANNEL_WEIGHTS)
        self._contact_kind = _Weighted(DEAL_CONTACT_WEIGHTS)
        self._country = _Weighted(COUNTRY_WEIGHTS)
        self._consent = _Weighted(CONSENT_WEIGHTS)

    def build(self, count: int) -> None:
        plans = sorted(self._plan(i) for i in range(count))
        for created_ms, _, channel, click in plans:
            self._deal(created_ms, channel, click)
        self._merge_and_archive()

    def _plan(self, sequence: int) -> tuple[int, int, str, tuple[int, _Ad] | None]:
        """(created, tie-break, channel, paid click) of one deal."""
        rng, clock = self.rng, self.clock
        roll = rng.random()
        click = self.pinterest.click(rng) if roll < PINTEREST_PAID_SHARE else None
        if click is not None:
            clicked = clock.instant_in_day(rng, click[0])
            created = clicked + min(int(rng.expovariate(1.0) * DAY_MS), CLICK_TO_LEAD_MAX_DAYS * DAY_MS - 1)
            if created >= clock.now_ms:
                created = rng.randrange(clicked, clock.now_ms)
            return created, sequence, "pinterest_paid", (clicked, click[1])
        if roll < PINTEREST_PAID_SHARE + PINTEREST_ORGANIC_SHARE:
            channel = "pinterest_organic"
        else:
            channel = self._other_channel(rng)
        return clock.instant_in_day(rng, rng.randrange(HISTORY_DAYS), 7), sequence, channel, None

    # deals
    def _deal(self, created: int, channel: str, click: tuple[int, _Ad] | None) -> None:
        rng = self.rng
        self._deal_ids += rng.randint(3, 40)  # gaps: other objects' ids, and room for merged-away ids
        deal_id = str(self._deal_ids)
        contact_ids, country = self._contacts_for(created)
        eur = rng.random() < (0.9 if country in ("FR", "DE") else 0.1 if country is None else 0.0)
        wholesale = rng.random() < WHOLESALE_SHARE
        pipeline = _PIPELINES[1 if wholesale else 0]
        entries, won, closed, expected = self._lifecycle(pipeline, created)
        epoch = rng.random() < EPOCH_MS_SHARE
        stamp = str if epoch else _iso
        last_event = entries[-1][1]
        modified = _later(rng, last_event, 5 * DAY_MS, self.clock.now_ms)

        props: dict[str, str | None] = {}
        amount = self._amount(wholesale)
        if not (closed is None and rng.random() < 0.1):  # open deals are not always priced yet
            props["amount"] = _number(amount)
            props["amount_in_home_currency"] = _number(amount * EUR_TO_USD) if eur else props["amount"]
        if closed is not None:
            if won and rng.random() < REP_SET_CLOSEDATE_SHARE:
                closed = max(created, (closed // DAY_MS - rng.randint(0, 2)) * DAY_MS)
            props["closedate"] = stamp(closed)
        elif expected is not None:
            props["closedate"] = stamp(expected)
        props["createdate"] = _iso(created)
        props["deal_currency_code"] = "EUR" if eur else "USD"
        props["dealname"] = f"{'Wholesale - ' if wholesale else ''}{rng.choice(PRODUCTS)} #{deal_id[-5:]}"
        props["dealstage"] = entries[-1][0]
        props["hs_is_closed_won"] = "true" if won else "false"
        props["hs_lastmodifieddate"] = _iso(modified)
        props["hs_object_id"] = deal_id
        props["pipeline"] = pipeline.id
        for stage, entered in entries:
            props[_STAGE_PROPERTY[stage]] = stamp(entered)
        self._attribution(props, channel, click, created)
        self._first_touch(random.Random(f"{deal_id}:first_touch"), props, created)
        if created < self._migrated_before:
            tail = "".join(rng.choices(BASE62, k=12)) + "".join(rng.choices(string.ascii_uppercase, k=3))
            props[_P["legacy_deal_id"]] = "006" + tail

        index = len(self.deals)
        if won:
            self.won.append(index)
        if channel == "pinterest_paid":
            self.paid.append(index)
        self.deals.append(
            {
                "id": deal_id,
                "properties": props,
                "createdAt": props["createdate"],
                "updatedAt": props["hs_lastmodifieddate"],
                "archived": False,
                "associations": {"contacts": contact_ids},
            }
        )

    def _lifecycle(
        self, pipeline: _Pipeline, created: int
    ) -> tuple[list[tuple[str, int]], bool, int | None, int | None]:
        """Stage entries, won?, closed time (won/lost) and expected close (open deals)."""
        rng, now = self.rng, self.clock.now_ms
        end = created + int(rng.uniform(*CYCLE_DAYS) * DAY_MS)
        outcome = "open"
        if end < now:
            roll = rng.random()
            outcome = "won" if roll < WON_SHARE else "lost" if roll < WON_SHARE + LOST_SHARE else "stalled"
        if outcome == "lost":
            end = created + int((end - created) * rng.uniform(0.3, 1.0))
        stages = pipeline.open_stages
        reach = len(stages) if outcome != "stalled" else rng.randint(1, len(stages))
        entries = [(stages[0], created)]
        for k in range(1, reach):
            entered = created + int((end - created) * (k + rng.uniform(0.0, 0.6)) / len(stages))
            if entered >= (end if outcome in ("won", "lost") else now):
                break
            if outcome == "won" and rng.random() < 0.15:
                continue  # stages get skipped
            entries.append((stages[k], entered))
        if outcome == "won":
            entries.append((pipeline.won, end))
            return entries, True, end, None
        if outcome == "lost":
            entries.append((pipeline.lost, end))
            return entries, False, end, None
        return entries, False, None, end if rng.random() < OPEN_CLOSEDATE_SHARE else None

    def _amount(self, wholesale: bool) -> float:
        rng = self.rng
        amount = rng.lognormvariate(math.log(8000 if wholesale else 1200), 0.7)
        if rng.random() < 0.4:
            return max(50.0, round(amount / 50) * 50)
        return round(max(amount, 49.0), rng.choice((0, 1, 2)))

    def _attribution(
        self, props: dict[str, str | None], channel: str, click: tuple[int, _Ad] | None, created: int
    ) -> None:
        """UTMs, HubSpot's original source and the form's IP/user agent for one deal's channel."""
        rng = self.rng
        source, data_1, data_2 = "OFFLINE", "CRM_UI", None
        utm: dict[str, str | None] = {}
        web = True
        if click is not None:
            clicked, ad = click
            touch = _click_touch(rng, clicked, ad)
            utm = {role: touch.pop(role) for role in ("utm_source", "utm_medium", "utm_campaign", "utm_content")
                   if role in touch}  # fmt: skip
            props.update({_P[role]: value for role, value in touch.items()})
            if ad.tracking != "none":
                source, data_1, data_2 = "PAID_SOCIAL", "Pinterest", ad.utm_campaign
            else:
                source, data_1 = "SOCIAL_MEDIA", "Pinterest"
        elif channel == "pinterest_organic":
            campaign = rng.choice((None, None, "shop_the_look", "idea_pins_living_room"))
            utm = {"utm_source": "Pinterest" if rng.random() < 0.05 else "pinterest", "utm_campaign": campaign}
            utm["utm_medium"] = rng.choice(("social", "organic_social", "pin"))
            source, data_1, data_2 = "SOCIAL_MEDIA", "Pinterest", campaign
        elif channel == "google_ads":
            campaign = rng.choice(("brand_search_us", "nonbrand_sofas", "pmax_catalog", "brand_search_eu"))
            utm = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": campaign}
            source, data_1, data_2 = "PAID_SEARCH", "google", campaign
        elif channel == "meta_ads":
            network = rng.choice(("facebook", "instagram"))
            campaign = rng.choice(("fb_prospecting_broad", "ig_retargeting_30d", "advantage_plus_catalog"))
            if rng.random() < 0.2 and self.pinterest.campaigns:  # cross-channel naming: must not count as Pinterest
                campaign = rng.choice(self.pinterest.campaigns)["name"]
            utm = {"utm_source": network, "utm_medium": "paid_social", "utm_campaign": campaign}
            source, data_1, data_2 = "PAID_SOCIAL", network.title(), campaign
        elif channel == "organic_search":
            source, data_1, data_2 = "ORGANIC_SEARCH", rng.choice(("google", "bing")), "unknown keywords (SSL)"
        elif channel == "email":
            campaign = f"newsletter_{time.strftime('%Y_w%W', time.gmtime(created // 1000))}"
            utm = {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": campaign}
            source, data_1, data_2 = "EMAIL_MARKETING", "newsletter", campaign
        elif channel == "direct":
            source, data_1 = "DIRECT_TRAFFIC", f"{SITE}/"
        elif channel == "referral":
            source, data_1 = "REFERRALS", rng.choice(("houzz.example", "apartmenttherapy.example", "reddit.example"))
        else:
            web = False
        props["hs_analytics_source"] = source
        props["hs_analytics_source_data_1"] = data_1
        if data_2 is not None:
            props["hs_analytics_source_data_2"] = data_2
        for name, value in utm.items():
            if value is not None:
                props[_P[name]] = value
        if web and rng.random() < (IP_UA_SHARE if click is not None else IP_UA_OTHER_SHARE):
            props[_P["ip_address"]] = _ip(rng)
            props[_P["user_agent"]] = rng.choice(USER_AGENTS)

    def _first_touch(self, rng: random.Random, props: dict[str, str | None], created: int) -> None:
        """The deal's first touch (module docstring), from its own random stream ``rng``."""
        if props.get("hs_analytics_source") == "OFFLINE" or rng.random() >= FIRST_TOUCH_SHARE:
            return
        last = {role: props.get(_P[role]) for role in _TOUCH_ROLES}
        first = last
        if rng.random() < FIRST_TOUCH_DIFFERS_SHARE:
            click = self.pinterest.click(rng)
            if last["epik"] is not None and (click is None or rng.random() < 0.4):
                campaign = rng.choice(("shop_the_look", "idea_pins_living_room", None))
                first = {"utm_source": "pinterest", "utm_medium": "social", "utm_campaign": campaign}
            elif click is not None:
                clicked = created - rng.randint(2, 40) * DAY_MS - rng.randrange(DAY_MS)
                first = _click_touch(rng, clicked, click[1])
        for role, value in first.items():
            if value is not None:
                props[_P[f"first_touch_{role}"]] = value

    def _merge_and_archive(self) -> None:
        """Survivors of merges (merged-away ids vanish) and archived deals; archiving bumps the dates."""
        rng, now = self.rng, self.clock.now_ms
        for deal in self.deals:
            roll = rng.random()
            if roll < MERGED_DEAL_SHARE:
                survivor = int(deal["id"])
                merged = [str(survivor - k) for k in range(rng.randint(1, 2), 0, -1)]
                deal["properties"]["hs_merged_object_ids"] = ";".join(merged)
            elif roll < MERGED_DEAL_SHARE + ARCHIVED_DEAL_SHARE:
                archived = _iso(_later(rng, _parse_ms(deal["updatedAt"]), 10 * DAY_MS, now))
                deal["archived"] = True
                deal["archivedAt"] = archived
                deal["updatedAt"] = deal["properties"]["hs_lastmodifieddate"] = archived

    # contacts
    def _contacts_for(self, deal_created: int) -> tuple[list[str], str | None]:
        rng = self.rng
        kind = self._contact_kind(rng)
        if kind == "repeat" and self._contact_pool:
            contact_id, country = rng.choice(self._contact_pool)
            return [contact_id], country
        if kind == "none":
            return [], None
        country = self._country(rng)
        ids = [self._contact(deal_created, country)]
        if kind == "two":
            ids.append(self._contact(deal_created, country))
        return ids, country

    def _contact(self, deal_created: int, country: str) -> str:
        rng, now = self.rng, self.clock.now_ms
        self._contact_ids += rng.randint(1, 20)
        contact_id = str(self._contact_ids)
        created = deal_created - rng.randrange(0, 14 * DAY_MS)
        modified = _later(rng, created, 20 * DAY_MS, now)
        firsts, lasts = NAMES[country]
        first, last = rng.choice(firsts), rng.choice(lasts)
        props: dict[str, str | None] = {"createdate": _iso(created)}
        if rng.random() >= EMAIL_MISSING_SHARE:
            props["email"] = _email(rng, first, last, country)
            if rng.random() < ADDITIONAL_EMAIL_SHARE:
                extra = (_email(rng, first, last, country).strip().lower() for _ in range(rng.randint(1, 2)))
                props["hs_additional_emails"] = ";".join(extra)
        props["firstname"] = first if rng.random() > 0.02 else first.upper()
        props["lastname"] = last
        if rng.random() >= PHONE_MISSING_SHARE:
            props["phone"] = _phone(rng, country)
        if rng.random() < MOBILE_SHARE:
            props["mobilephone"] = _phone(rng, country)
        if not (country == "US" and rng.random() < 0.05):
            props["country"] = rng.choice(COUNTRY_LABELS[country])
        props.update(_address_and_profile(random.Random(f"{contact_id}:address"), country, created))
        consent = self._consent(rng)
        if consent is not None:
            props[_P["ads_consent"]] = consent
        props["hs_object_id"] = contact_id
        props["lastmodifieddate"] = _iso(modified)
        self.contacts.append(
            {
                "id": contact_id,
                "properties": props,
                "createdAt": props["createdate"],
                "updatedAt": props["lastmodifieddate"],
                "archived": False,
            }
        )
        self._contact_pool.append((contact_id, country))
        return contact_id


def _address_and_profile(rng: random.Random, country: str, created_ms: int) -> dict[str, str]:
    """A contact's city, state and ZIP code (some typed messily, some missing), and on some a gender and a date of
    birth as a form collects them (free text: sometimes unusable)."""
    props: dict[str, str] = {}
    if rng.random() >= ADDRESS_MISSING_SHARE:
        city, state, zip_code = rng.choice(ADDRESSES[country])
        if rng.random() < ADDRESS_MESSY_SHARE:
            city = rng.choice((f"{city} ", city.upper(), *MESSY_CITIES))
            if state:
                state = rng.choice((state.lower(), US_STATE_NAMES[state]))
            if country == "US":
                zip_code = f"{zip_code}-{rng.randint(1000, 9999)}"
        props.update({"city": city, "zip": zip_code, **({"state": state} if state else {})})
    if rng.random() < PROFILE_SHARE:
        props["gender"] = rng.choice(GENDERS)
        created = dt.datetime.fromtimestamp(created_ms / 1000, dt.UTC).date()
        born = created - dt.timedelta(days=rng.randint(18 * 365, 70 * 365))
        props["date_of_birth"] = born.isoformat() if rng.random() < 0.9 else born.strftime("%d/%m/%Y")
    return props


def _later(rng: random.Random, after: int, mean: int, now: int) -> int:
    """An instant some exponential time (of the given mean) after ``after`` and before ``now``."""
    later = after + int(rng.expovariate(1.0) * mean)
    return later if later < now else rng.randrange(after, now)


def _parse_ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000 + 0.5)


_TOUCH_ROLES = (
    "epik", "utm_source", "utm_medium", "utm_campaign", "utm_content", "pinterest_campaign_id",
    "pinterest_ad_group_id", "pinterest_ad_id",
)  # fmt: skip


def _click_touch(rng: random.Random, clicked_ms: int, ad: _Ad) -> dict[str, str | None]:
    """The attribution roles a paid click on ``ad`` leaves on a deal (its tracking template decides which)."""
    touch: dict[str, str | None] = {"epik": _epik(rng, clicked_ms)}
    if ad.tracking != "none":
        medium = {"macros": "paid", "utm_id": "cpc"}.get(ad.tracking, "paid_social")
        touch.update(utm_source="Pinterest" if rng.random() < 0.05 else "pinterest", utm_medium=medium,
                     utm_campaign=ad.utm_campaign, utm_content=ad.utm_content)  # fmt: skip
    if ad.tracking == "macros":
        touch.update(pinterest_campaign_id=ad.campaign["id"], pinterest_ad_group_id=ad.ad_group["id"],
                     pinterest_ad_id=ad.record["id"])  # fmt: skip
    return touch


def _epik(rng: random.Random, clicked_ms: int) -> str:
    """A Pinterest click id: base64 of "v=2&u=...&p=2&n=...&t=..." (64-80 chars, "=" padding on two thirds)."""
    user = "".join(rng.choices(URL_SAFE, k=rng.randint(14, 22)))
    nonce = "".join(rng.choices(URL_SAFE, k=rng.randint(8, 12)))
    stamp = base64.b64encode((clicked_ms // 1000).to_bytes(6, "big")).decode()
    return base64.b64encode(f"v=2&u={user}&p=2&n={nonce}&t={stamp}".encode()).decode()


def _ip(rng: random.Random) -> str:
    """A documentation-range address (RFC 5737 / RFC 3849): realistic shape, nobody's real IP."""
    if rng.random() < 0.2:
        return f"2001:db8:{rng.randrange(0x10000):x}:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"
    return f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"


def _email(rng: random.Random, first: str, last: str, country: str) -> str:
    local = f"{_ascii(first)}{rng.choice(('.', '_', ''))}{_ascii(last)}".lower()
    if rng.random() < 0.3:
        local += str(rng.randint(1, 99))
    email = f"{local}@{rng.choice(EMAIL_DOMAINS[country])}"
    if rng.random() < EMAIL_MESSY_SHARE:
        return rng.choice((f" {email} ", email.upper(), f"{_ascii(first)}.{_ascii(last)}@{email.split('@')[1]} "))
    return email


def _phone(rng: random.Random, country: str) -> str:
    """A phone number in one of the national (or international) formats people type, in a fictional range."""
    if country == "US":
        area, line = rng.choice(US_AREA_CODES), f"01{rng.randint(0, 99):02d}"
        return rng.choice(
            (
                f"({area}) 555-{line}",
                f"{area}-555-{line}",
                f"{area}.555.{line}",
                f"+1 {area} 555 {line}",
                f"{area}555{line}",
            )
        )
    if country == "FR":
        a, b = f"{rng.randint(0, 99):02d}", f"{rng.randint(0, 99):02d}"
        return rng.choice((f"01 99 00 {a} {b}", f"+33 1 99 00 {a} {b}", f"0199 00{a}{b}"))
    if country == "DE":
        line = f"{rng.randint(0, 999):03d}"
        return rng.choice((f"030 23125 {line}", f"+49 30 23125{line}", f"(030) 23125-{line}"))
    line = f"{rng.randint(0, 999):03d}"
    return rng.choice((f"020 7946 0{line}", f"+44 20 7946 0{line}"))
