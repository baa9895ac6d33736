"""Seeded synthetic world for the sandbox: a HubSpot portal and a Pinterest ad account that tell one story.

``generate(out_dir, deals=N, seed=S, today=D)`` writes the dataset directory of docs/design.md and returns it. The same
arguments always give byte-identical files (one ``random.Random`` stream per part, no set iteration, no clock).

The world ("Northwind Home", a furniture seller in USD with EU customers paying in EUR):

- Pinterest: ``clamp(deals // DEALS_PER_CAMPAIGN, MIN_CAMPAIGNS, MAX_CAMPAIGNS)`` campaigns of 2-4 ad groups of 2-4
  ads. Two always-on campaigns deliver over the whole history, one campaign is ARCHIVED after a past flight (it
  spent), the rest are seasonal: ACTIVE (RUNNING, COMPLETED or NOT_STARTED with no spend), PAUSED mid-flight or
  ARCHIVED. ``analytics.jsonl`` has one row per ad per day of delivery within the last ``HISTORY_DAYS`` days up to
  today-1 (account timezone), ``DAILY_AD_SPEND_RANGE`` ($5-$300) per ad per day; the mean is aimed at a paid CAC of
  ``TARGET_PAID_CAC`` within ``MEAN_DAILY_AD_SPEND_RANGE`` (small worlds overshoot it, which is fine).
  Each ad has a tracking template (``AD_TRACKING_WEIGHTS``) that decides what its deals carry: ``macros`` (the
  campaign/ad group/ad id properties, ``utm_campaign`` = exact name, ``utm_content`` = ad id), ``utm_id``
  (``utm_campaign`` = campaign id), ``utm_name`` (``utm_campaign`` = the name with other case/space/-/_; resolvable
  by DESIGN's rule; ``utm_content`` = ad group name on half of them), ``utm_typo`` (misspelt or stale name:
  unresolvable) and ``none`` (no UTMs at all: the epik is the only Pinterest trace).
- HubSpot: deals created over the ``HISTORY_DAYS`` days before today (every instant is before today 00:00 UTC,
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
- Contacts: ``DEAL_CONTACT_WEIGHTS`` (none / 1 new / 2 new / a repeat customer's existing contact). Emails missing
  on ``EMAIL_MISSING_SHARE``, upper-case or padded with spaces on ``EMAIL_MESSY_SHARE``; phones in national formats
  of the contact's country (fictional ranges: US 555-01xx, FR 01 99 00, DE 030 23125, GB 020 7946 0), missing on
  ``PHONE_MISSING_SHARE``; ``country`` (free text) says which national format applies. The consent property is a
  **contact** property (enumeration granted/denied, plus the legacy true/false of an old form), drawn from
  ``CONSENT_WEIGHTS``: denied = "denied" or "false".
- Unset properties are left out of ``properties`` (the API shows a requested unset property as null).

Deliberate bad records: ``bad_record_count(deals)`` = ``max(1, deals // BAD_RECORD_EVERY)`` of each kind below (fewer
only when a tiny world has too few candidates), each on a distinct non-archived record:

- ``amount_with_currency``: amount like "1,250.00 USD" (no amount_in_home_currency)
- ``amount_tbd``: amount "TBD" (no amount_in_home_currency)
- ``unknown_currency``: deal_currency_code "XYZ" (no amount_in_home_currency)
- ``won_without_closedate``: a won deal without closedate (its stage entry time is still there)
- ``epik_with_spaces``: epik with leading/trailing or one inner space
- ``epik_url_encoded``: epik whose "=" padding arrived URL-encoded as "%3D"
- ``phone_not_a_number``: a contact phone like "n/a" or "ask for Mike"
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import itertools
import math
import random
import string
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from sandbox.dataset import Dataset

# --- knobs -----------------------------------------------------------------------------------------------------
HISTORY_DAYS = 365
PINTEREST_PAID_SHARE = 0.35
PINTEREST_ORGANIC_SHARE = 0.10
OTHER_CHANNEL_WEIGHTS = {
    "google_ads": 0.30,
    "meta_ads": 0.20,
    "organic_search": 0.20,
    "email": 0.10,
    "direct": 0.10,
    "referral": 0.05,
    "offline": 0.05,
}
AD_TRACKING_WEIGHTS = {"macros": 0.45, "utm_id": 0.10, "utm_name": 0.30, "utm_typo": 0.07, "none": 0.08}
DEALS_PER_CAMPAIGN = 100
MIN_CAMPAIGNS, MAX_CAMPAIGNS = 4, 60
TARGET_PAID_CAC = 450.0
DAILY_AD_SPEND_RANGE = (5.0, 300.0)
MEAN_DAILY_AD_SPEND_RANGE = (15.0, 150.0)
CLICK_TO_LEAD_MAX_DAYS = 7
CYCLE_DAYS = (30, 90)
WON_SHARE, LOST_SHARE = 0.35, 0.50
REP_SET_CLOSEDATE_SHARE = 0.05
OPEN_CLOSEDATE_SHARE = 0.6
EPOCH_MS_SHARE = 0.05
WHOLESALE_SHARE = 0.20
EUR_TO_USD = 1.08
# The sample CSV of other channels' spend (channel, campaign, daily USD range) written beside the dataset.
CHANNEL_SPEND_FILE = "channel_spend/other_channels.csv"
OTHER_CHANNEL_SPEND = (
    ("google", "brand_search_us", 20.0, 60.0),
    ("google", "nonbrand_sofas", 40.0, 120.0),
    ("facebook", "fb_prospecting_broad", 30.0, 90.0),
    ("instagram", "ig_retargeting_30d", 10.0, 40.0),
)
MERGED_DEAL_SHARE = 0.02
ARCHIVED_DEAL_SHARE = 0.01
MIGRATED_BEFORE_DAYS = 300
IP_UA_SHARE, IP_UA_OTHER_SHARE = 0.60, 0.15
DEAL_CONTACT_WEIGHTS = {"none": 0.05, "one": 0.72, "two": 0.15, "repeat": 0.08}
COUNTRY_WEIGHTS = {"US": 0.72, "FR": 0.12, "DE": 0.11, "GB": 0.05}
EMAIL_MISSING_SHARE, EMAIL_MESSY_SHARE, ADDITIONAL_EMAIL_SHARE = 0.08, 0.05, 0.05
PHONE_MISSING_SHARE, MOBILE_SHARE = 0.30, 0.30
CONSENT_WEIGHTS = {None: 0.40, "granted": 0.40, "true": 0.08, "denied": 0.08, "false": 0.04}
BAD_RECORD_EVERY = 500
BAD_RECORD_KINDS = (
    "amount_with_currency",
    "amount_tbd",
    "unknown_currency",
    "won_without_closedate",
    "epik_with_spaces",
    "epik_url_encoded",
    "phone_not_a_number",
)

HOME_CURRENCY = "USD"
TIMEZONE = "America/New_York"
# logical name (docs/design.md) -> this portal's internal property name
PROPERTIES = {
    "epik": "pinterest_epik",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_content": "utm_content",
    "pinterest_campaign_id": "pinterest_campaign_id",
    "pinterest_ad_group_id": "pinterest_ad_group_id",
    "pinterest_ad_id": "pinterest_ad_id",
    "ads_consent": "ads_consent",
    "ip_address": "form_ip_address",
    "user_agent": "form_user_agent",
    "legacy_deal_id": "legacy_crm_deal_id",
}
CONTACT_CUSTOM_PROPERTIES = ("ads_consent",)  # logical names living on contacts; the others live on deals

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
SITE = "https://shop.northwind.example"

# (id, label, [(stage id, label, probability)]); the last two stages are closed won and closed lost
PIPELINES = (
    (
        "default",
        "Sales Pipeline",
        [
            ("appointmentscheduled", "Appointment Scheduled", "0.2"),
            ("qualifiedtobuy", "Qualified To Buy", "0.4"),
            ("presentationscheduled", "Presentation Scheduled", "0.6"),
            ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
            ("contractsent", "Contract Sent", "0.9"),
            ("closedwon", "Closed Won", "1.0"),
            ("closedlost", "Closed Lost", "0.0"),
        ],
    ),
    (
        "75811447",
        "Wholesale",
        [
            ("142567001", "New inquiry", "0.1"),
            ("142567002", "Samples sent", "0.3"),
            ("142567003", "Quote sent", "0.6"),
            ("142567004", "Negotiation", "0.8"),
            ("142567005", "Closed won", "1.0"),
            ("142567006", "Closed lost", "0.0"),
        ],
    ),
)
ANALYTICS_SOURCES = (
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "EMAIL_MARKETING",
    "SOCIAL_MEDIA",
    "REFERRALS",
    "OTHER_CAMPAIGNS",
    "DIRECT_TRAFFIC",
    "OFFLINE",
    "PAID_SOCIAL",
)

CAMPAIGN_THEMES = (
    "Prospecting",
    "Retargeting",
    "Catalog Sales",
    "Conversions",
    "Video Awareness",
    "Gift Guide",
    "New Arrivals",
    "Actalike 1%",
    "Consideration",
    "Clearance",
    "Outdoor Living",
    "Small Spaces",
)
AUDIENCES = (
    "Interests - Home Decor",
    "Keywords - Living Room",
    "Broad",
    "Actalike 1%",
    "Site Visitors 30d",
    "Catalog - Sofas",
    "Cart Abandoners 7d",
    "Women 25-44",
    "Video Viewers 50%",
)
CREATIVES = (
    ("Living room lifestyle", "REGULAR"),
    ("Sofa 360 video", "VIDEO"),
    ("Dining set carousel", "CAROUSEL"),
    ("Bedroom makeover", "REGULAR"),
    ("Outdoor lounge video", "VIDEO"),
    ("Shop the look", "COLLECTION"),
)
STALE_CAMPAIGN_NAMES = ("pinterest_sale", "pin-promo-old", "spring_sale_2023", "retargeting_v1", "Q3 promo")
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
EMAIL_DOMAINS = {
    "US": ("example.com", "example.net", "example.org"),
    "FR": ("example.fr", "example.com"),
    "DE": ("example.de", "example.com"),
    "GB": ("example.co.uk", "example.com"),
}
US_AREA_CODES = ("212", "312", "415", "512", "617", "206", "303", "404", "646", "718", "773", "818")
GARBAGE_PHONES = ("n/a", "ask for Mike", "0", "tbd", "call after 5pm")
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
PORTAL_CREATED = "2021-03-04T15:26:40.124Z"
URL_SAFE = string.ascii_letters + string.digits + "-_"
BASE62 = string.ascii_letters + string.digits


def bad_record_count(deals: int) -> int:
    """How many records of each deliberate-bad kind a world of ``deals`` deals holds (at most)."""
    return max(1, deals // BAD_RECORD_EVERY) if deals else 0


def generate(out_dir: Path, *, deals: int, seed: int, today: dt.date) -> Dataset:
    """Build the seeded world, save it to ``out_dir`` and return it."""
    if deals < 0:
        raise ValueError(f"deals must be >= 0, got {deals}")
    clock = _Clock(today)
    pinterest = _PinterestWorld(random.Random(f"{seed}/pinterest"), clock, deals)
    crm = _Crm(random.Random(f"{seed}/hubspot"), clock, pinterest)
    crm.build(deals)
    _inject_bad_records(random.Random(f"{seed}/bad"), crm, deals)
    dataset = Dataset(
        config=_config(random.Random(f"{seed}/config"), today, pinterest.account_id),
        deals=crm.deals,
        contacts=crm.contacts,
        pipelines=_pipelines(),
        properties=_properties(),
        campaigns=pinterest.campaigns,
        ad_groups=pinterest.ad_groups,
        ads=pinterest.ads,
        analytics=pinterest.analytics,
    )
    dataset.save(Path(out_dir))
    _write_channel_spend(Path(out_dir) / CHANNEL_SPEND_FILE, random.Random(f"{seed}/channel_spend"), clock)
    return dataset


def _write_channel_spend(path: Path, rng: random.Random, clock: _Clock) -> None:
    """Other channels' daily spend (USD) as the reconcile's CSV drop reads it, so the demo compares Pinterest's CAC
    with Google's and Meta's. Not part of the API world: the sandbox never serves it."""
    lines = ["channel,campaign,day,spend,currency"]
    for day in range(HISTORY_DAYS):
        for channel, campaign, low, high in OTHER_CHANNEL_SPEND:
            lines.append(f"{channel},{campaign},{clock.date(day).isoformat()},{rng.uniform(low, high):.2f},USD")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- time --------------------------------------------------------------------------------------------------------
class _Clock:
    """Day indexes of the history window (0 = today - HISTORY_DAYS, last = today - 1) and instant formatting."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.first_day = today - dt.timedelta(days=HISTORY_DAYS)
        self.now_ms = _ms(dt.datetime.combine(today, dt.time(), dt.UTC))
        zone = ZoneInfo(TIMEZONE)
        # local (account timezone) midnight of every window day, in UTC epoch ms; one extra for the end of the last day
        self.day_start_ms = [
            _ms(dt.datetime.combine(self.first_day + dt.timedelta(days=i), dt.time(), zone))
            for i in range(HISTORY_DAYS + 1)
        ]

    def date(self, day: int) -> dt.date:
        return self.first_day + dt.timedelta(days=day)

    def local_ms(self, day: int) -> int:
        """Local midnight of a day index, also outside the window (campaigns that started before it)."""
        if 0 <= day <= HISTORY_DAYS:
            return self.day_start_ms[day]
        return self.day_start_ms[0] + day * DAY_MS

    def instant_in_day(self, rng: random.Random, day: int, first_hour: int = 6) -> int:
        """A random instant of a local day between first_hour and midnight, never at or after now."""
        start = self.local_ms(day) + first_hour * HOUR_MS
        end = min(self.local_ms(day) + 24 * HOUR_MS, self.now_ms)
        return rng.randrange(start, end) if end > start else end - 1


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1000


def _iso(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _number(value: float) -> str:
    """A number as HubSpot prints it: no trailing zeros, no exponent ("1250.5", "1200")."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


class _Weighted:
    """A weighted choice among a dict's keys (cumulative weights computed once, not per draw)."""

    def __init__(self, weights: dict[Any, float]) -> None:
        self.keys = list(weights)
        self.cum = list(itertools.accumulate(weights.values()))

    def __call__(self, rng: random.Random) -> Any:
        return self.keys[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


def _normalised(name: str) -> str:
    """DESIGN's campaign-name match key: case-folded, runs of spaces, - and _ collapsed."""
    return " ".join(name.casefold().replace("-", " ").replace("_", " ").split())


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().replace("'", "")


# --- Pinterest -----------------------------------------------------------------------------------------------------
@dataclass
class _Flight:
    """Days (window indexes) an entity may deliver: [start, stop); stop None = open-ended."""

    start: int
    stop: int | None

    def within(self, other: _Flight) -> _Flight:
        stops = [s for s in (self.stop, other.stop) if s is not None]
        return _Flight(max(self.start, other.start), min(stops) if stops else None)


@dataclass
class _Ad:
    record: dict[str, Any]
    campaign: dict[str, Any]
    ad_group: dict[str, Any]
    tracking: str
    utm_campaign: str | None = None
    utm_content: str | None = None


class _PinterestWorld:
    """Campaigns, ad groups, ads, daily analytics and a spend-weighted sampler of (day, ad) clicks."""

    def __init__(self, rng: random.Random, clock: _Clock, deals: int) -> None:
        self.rng, self.clock, self.deals = rng, clock, deals
        self.campaigns: list[dict[str, Any]] = []
        self.ad_groups: list[dict[str, Any]] = []
        self.ads: list[dict[str, Any]] = []
        self.analytics: list[dict[str, Any]] = []
        self.ad_plans: list[_Ad] = []
        self._tracking = _Weighted(AD_TRACKING_WEIGHTS)
        self.account_id = str(rng.randrange(549_755_000_000, 549_756_000_000))
        self._campaign_ids = itertools.count(rng.randrange(626_735_000_000, 626_736_000_000), 17)
        self._ad_group_ids = itertools.count(rng.randrange(2_680_059_000_000, 2_680_060_000_000), 23)
        self._ad_ids = itertools.count(rng.randrange(687_195_000_000, 687_196_000_000), 13)
        self._names: set[str] = set()
        flights: list[_Flight] = []
        count = min(MAX_CAMPAIGNS, max(MIN_CAMPAIGNS, self.deals // DEALS_PER_CAMPAIGN))
        for index in range(count):
            flights.extend(self._campaign(index))
        self._analytics(flights)

    # structure
    def _campaign(self, index: int) -> list[_Flight]:
        rng, last = self.rng, HISTORY_DAYS  # day index HISTORY_DAYS is today
        objective = "WEB_CONVERSION"
        if index < 2:
            name = ("Always-on - Prospecting", "Always-on | Retargeting")[index]
            start, stop, status, paused = -rng.randint(30, 200), None, "ACTIVE", None
        elif index == 2:
            start = last - rng.randint(230, 260)
            stop, status, paused = start + rng.randint(40, 70), "ARCHIVED", None
            name = self._campaign_name(start)
        else:
            start = last + 10 - int(rng.triangular(0, HISTORY_DAYS + 30, 0))  # more flights lately
            stop = start + rng.randint(20, 100)
            objective = rng.choice(("WEB_CONVERSION", "CONSIDERATION", "CATALOG_SALES", "AWARENESS"))
            name = self._campaign_name(start)
            paused = None
            roll = rng.random()
            if stop <= last:
                status = "ARCHIVED" if roll < 0.6 else "PAUSED" if roll < 0.75 else "ACTIVE"
            else:
                status = "PAUSED" if roll < 0.2 and start < last else "ACTIVE"
            if status == "PAUSED":
                paused = rng.randint(start + 1, min(stop, last))
        own = _Flight(start, paused if paused is not None else stop)
        summary = self._summary(status, start, stop)
        created = self.clock.local_ms(start) // 1000 - rng.randint(3600, 10 * 86400)
        changed = paused if paused is not None else stop if status == "ARCHIVED" else None
        campaign = {
            "id": str(next(self._campaign_ids)),
            "ad_account_id": self.account_id,
            "name": name,
            "status": status,
            "lifetime_spend_cap": None,
            "daily_spend_cap": None,
            "order_line_id": None,
            "tracking_urls": None,
            "start_time": self.clock.local_ms(start) // 1000,
            "end_time": self.clock.local_ms(stop) // 1000 if stop is not None else None,
            "summary_status": summary,
            "is_campaign_budget_optimization": False,
            "is_flexible_daily_budgets": False,
            "objective_type": objective,
            "created_time": created,
            "updated_time": self._updated(created, changed),
            "type": "campaign",
            "is_automated_campaign": False,
            "is_performance_plus": False,
        }
        self.campaigns.append(campaign)
        flights = []
        for audience in rng.sample(AUDIENCES, rng.randint(2, 4)):
            flights.extend(self._ad_group(campaign, own, f"{name} - {audience}"))
        return flights

    def _campaign_name(self, start: int) -> str:
        rng, date = self.rng, self.clock.date(start)
        season = {12: "Holiday", 11: "BFCM", 1: "Winter", 2: "Winter", 9: "Fall", 10: "Fall"}.get(date.month)
        season = season or ("Spring" if date.month <= 5 else "Summer")
        for attempt in itertools.count(1):
            theme = rng.choice(CAMPAIGN_THEMES)
            style = rng.random()
            if style < 0.7:
                name = f"{season} {date.year} - {theme}"
            elif style < 0.85:
                name = f"{season}_{date.year}_{theme.replace(' ', '_')}"
            else:
                name = f"{season} {date.year} {theme}"
            if attempt > 3:
                name = f"{name} {attempt}"
            key = _normalised(name).replace(" ", "")
            if key not in self._names:
                self._names.add(key)
                return name
        raise AssertionError("unreachable")

    def _ad_group(self, campaign: dict[str, Any], parent: _Flight, name: str) -> list[_Flight]:
        rng = self.rng
        start = parent.start + (rng.randint(10, 30) if rng.random() < 0.2 else rng.randint(0, 5))
        status, paused = self._child_status(campaign, start)
        own = _Flight(start, paused).within(parent)
        objective = campaign["objective_type"]
        created = self.clock.local_ms(start) // 1000 - rng.randint(600, 86400)
        ad_group = {
            "id": str(next(self._ad_group_ids)),
            "name": name,
            "campaign_id": campaign["id"],
            "ad_account_id": self.account_id,
            "status": status,
            "budget_in_micro_currency": None,  # set once its ads' spend is known
            "bid_in_micro_currency": None if objective == "WEB_CONVERSION" else rng.choice((800_000, 1_500_000)),
            "bid_strategy_type": "AUTOMATIC_BID" if objective == "WEB_CONVERSION" else "MAX_BID",
            "budget_type": "DAILY",
            "start_time": self.clock.local_ms(start) // 1000,
            "end_time": campaign["end_time"],
            "targeting_spec": {
                "AGE_BUCKET": sorted(rng.sample(["25-34", "35-44", "45-49", "50-54", "55-64"], 3)),
                "APPTYPE": ["android_mobile", "ipad", "iphone", "web", "web_mobile"],
                "GENDER": rng.choice((["female"], ["female", "male", "unknown"])),
                "GEO": ["US"] if rng.random() < 0.7 else ["US", "FR", "DE"],
                "LOCALE": ["en"] if rng.random() < 0.7 else ["en", "fr", "de"],
                "TARGETING_STRATEGY": ["CHOOSE_YOUR_OWN"],
            },
            "lifetime_frequency_cap": -1,
            "tracking_urls": None,
            "auto_targeting_enabled": True,
            "placement_group": "ALL",
            "pacing_delivery_type": "STANDARD",
            "conversion_learning_mode_type": "NOT_ACTIVE" if objective == "WEB_CONVERSION" else None,
            "summary_status": self._summary(status, start, parent.stop),
            "feed_profile_id": "0",
            "billable_event": "IMPRESSION" if objective in ("WEB_CONVERSION", "AWARENESS") else "CLICKTHROUGH",
            "optimization_goal_metadata": self._goal(objective),
            "is_creative_optimization": False,
            "promotion_id": None,
            "promotion_application_level": None,
            "targeting_template_ids": None,
            "bid_multiplier": None,
            "created_time": created,
            "updated_time": self._updated(created, paused),
            "type": "adgroup",
        }
        self.ad_groups.append(ad_group)
        flights = []
        for number in rng.sample(range(1, 10), rng.randint(2, 4)):
            flights.append(self._ad(campaign, ad_group, own, number))
        return flights

    def _ad(self, campaign: dict[str, Any], ad_group: dict[str, Any], parent: _Flight, number: int) -> _Flight:
        rng = self.rng
        start = parent.start + rng.randint(0, 10)
        status, paused = self._child_status(ad_group, start)
        rejected = status != "ARCHIVED" and rng.random() < 0.02
        own = _Flight(start, paused).within(parent)
        if rejected:
            own = _Flight(start, start)
        creative, creative_type = rng.choice(CREATIVES)
        ad_id = str(next(self._ad_ids))
        plan = _Ad({}, campaign, ad_group, self._tracking(rng))
        created = self.clock.local_ms(start) // 1000 - rng.randint(600, 86400)
        summary = "REJECTED" if rejected else "APPROVED" if status == "ACTIVE" else status  # ads' own enum
        plan.record = {
            "id": ad_id,
            "ad_group_id": ad_group["id"],
            "campaign_id": campaign["id"],
            "ad_account_id": self.account_id,
            "pin_id": str(rng.randrange(10**17, 10**18)),
            "name": f"Pin {number} - {creative}",
            "status": status,
            "creative_type": creative_type,
            "destination_url": self._destination(plan, ad_id),
            "click_tracking_url": None,
            "view_tracking_url": None,
            "android_deep_link": None,
            "ios_deep_link": None,
            "carousel_android_deep_links": None,
            "carousel_destination_urls": None,
            "carousel_ios_deep_links": None,
            "tracking_urls": None,
            "is_pin_deleted": False,
            "is_removable": False,
            "lead_form_id": None,
            "grid_click_type": "DIRECT_TO_DESTINATION",
            "customizable_cta_type": "SHOP_NOW" if creative_type != "VIDEO" else "LEARN_MORE",
            "disclosure_type": None,
            "collection_items_destination_url_template": None,
            "quiz_pin_data": None,
            "review_status": "REJECTED" if rejected else "APPROVED",
            "rejected_reasons": ["LANDING_PAGE_QUALITY"] if rejected else [],
            "rejection_labels": ["Landing page quality"] if rejected else [],
            "summary_status": summary,
            "type": "pinpromotion",
            "created_time": created,
            "updated_time": self._updated(created, paused),
        }
        self.ads.append(plan.record)
        self.ad_plans.append(plan)
        return own

    def _destination(self, plan: _Ad, ad_id: str) -> str:
        """The ad's landing URL; also fixes the UTMs every deal from this ad will carry."""
        rng, name = self.rng, plan.campaign["name"]
        path = f"{SITE}/{rng.choice(('sofas', 'dining', 'bedroom', 'outdoor', 'new'))}"
        if plan.tracking == "macros":
            plan.utm_campaign, plan.utm_content = name, ad_id
            return (
                f"{path}?utm_source=pinterest&utm_medium=paid&utm_campaign={{campaign_name}}&utm_content={{adid}}"
                "&pin_campaign_id={campaignid}&pin_ad_group_id={adgroupid}&pin_ad_id={adid}"
            )
        if plan.tracking == "utm_id":
            plan.utm_campaign, plan.utm_content = plan.campaign["id"], ad_id
            return f"{path}?utm_source=pinterest&utm_medium=cpc&utm_campaign={{campaignid}}&utm_content={{adid}}"
        if plan.tracking == "utm_name":
            plan.utm_campaign = _name_variant(rng, name)
            plan.utm_content = plan.ad_group["name"] if rng.random() < 0.5 else None
        elif plan.tracking == "utm_typo":
            plan.utm_campaign = _typo(rng, name)
        else:
            return path
        query = {"utm_source": "pinterest", "utm_medium": "paid_social", "utm_campaign": plan.utm_campaign}
        if plan.utm_content:
            query["utm_content"] = plan.utm_content
        return f"{path}?{urlencode(query, quote_via=quote)}"

    def _child_status(self, parent: dict[str, Any], start: int) -> tuple[str, int | None]:
        if parent["status"] == "ARCHIVED":
            return "ARCHIVED", None
        if self.rng.random() < 0.1 and start < HISTORY_DAYS - 1:
            return "PAUSED", self.rng.randint(start + 1, HISTORY_DAYS)
        return "ACTIVE", None

    @staticmethod
    def _summary(status: str, start: int, stop: int | None) -> str:
        if status != "ACTIVE":
            return status
        if start >= HISTORY_DAYS:
            return "NOT_STARTED"
        return "COMPLETED" if stop is not None and stop <= HISTORY_DAYS else "RUNNING"

    def _updated(self, created: int, changed_day: int | None) -> int:
        """Last update: the status change when there is one, else an edit some time after creation."""
        now = self.clock.now_ms // 1000
        if changed_day is not None:
            return min(max(created + 60, self.clock.local_ms(changed_day) // 1000 + 3600), now - 1)
        return min(created + self.rng.randint(60, 30 * 86400), now - 1)

    @staticmethod
    def _goal(objective: str) -> dict[str, Any] | None:
        if objective != "WEB_CONVERSION":
            return None
        return {
            "conversion_tag_v3_goal_metadata": {
                "attribution_windows": {"click_window_days": 30, "engagement_window_days": 30, "view_window_days": 1},
                "conversion_event": "CHECKOUT",
                "conversion_tag_id": "2614016393412",
                "cpa_goal_value_in_micro_currency": "25000000",
                "is_roas_optimized": False,
                "learning_mode_type": None,
            },
        }

    # delivery
    def _analytics(self, flights: list[_Flight]) -> None:
        """Daily rows for every ad and day it delivered (3% of flight days have no delivery), in DATE, AD_ID order."""
        rng, last = self.rng, HISTORY_DAYS - 1
        delivery: list[list[int]] = []
        for flight in flights:
            stop = last + 1 if flight.stop is None else min(flight.stop, last + 1)
            delivery.append([d for d in range(max(flight.start, 0), stop) if rng.random() >= 0.03])
        ad_days = sum(len(days) for days in delivery) or 1
        expected_paid_won = self.deals * PINTEREST_PAID_SHARE * 0.85 * WON_SHARE  # ~85% of cycles have ended
        low, high = DAILY_AD_SPEND_RANGE
        mean_low, mean_high = MEAN_DAILY_AD_SPEND_RANGE
        mean_daily = min(max(TARGET_PAID_CAC * expected_paid_won / ad_days, mean_low), mean_high)
        weekday_factor = (1.0, 0.95, 0.95, 1.0, 1.05, 1.2, 1.2)
        month_factor = {11: 1.3, 12: 1.4, 1: 0.85}
        self._day_ads: list[list[int]] = [[] for _ in range(HISTORY_DAYS)]
        self._day_cum: list[list[int]] = [[] for _ in range(HISTORY_DAYS)]
        for index, (plan, days) in enumerate(zip(self.ad_plans, delivery, strict=True)):
            base = mean_daily * rng.lognormvariate(0, 0.6) / math.exp(0.18)
            cpm, ctr, cvr = rng.uniform(2.0, 8.0), rng.uniform(0.004, 0.015), rng.uniform(0.01, 0.03)
            peak = 0
            for day in days:
                date = self.clock.date(day)
                spend = base * weekday_factor[date.weekday()] * month_factor.get(date.month, 1.0)
                spend = min(max(spend * rng.uniform(0.7, 1.3), low), high)
                micros = int(spend * 1_000_000) + rng.randrange(1000)
                peak = max(peak, micros)
                self.analytics.append(self._row(rng, date, plan.record, micros, cpm, ctr, cvr))
                cum = self._day_cum[day]
                self._day_ads[day].append(index)
                cum.append((cum[-1] if cum else 0) + micros)
            budget = plan.ad_group["budget_in_micro_currency"] or 0
            plan.ad_group["budget_in_micro_currency"] = budget + (peak // 10_000_000 + 2) * 10_000_000
        self.analytics.sort(key=lambda row: (row["DATE"], row["AD_ID"]))
        self._days = [d for d in range(HISTORY_DAYS) if self._day_cum[d]]
        self._days_cum = list(itertools.accumulate(self._day_cum[d][-1] for d in self._days))

    @staticmethod
    def _row(
        rng: random.Random, date: dt.date, ad: dict[str, Any], micros: int, cpm: float, ctr: float, cvr: float
    ) -> dict[str, Any]:
        paid = int(micros / cpm / 1000)
        clicks = int(paid * ctr * rng.uniform(0.8, 1.2))
        click_checkout = int(clicks * cvr * rng.uniform(0.5, 1.5) + rng.random())
        view_checkout = int(paid * 0.00005 * rng.uniform(0, 2) + rng.random() * 0.5)
        engagement_checkout = int(rng.random() < 0.1)
        checkout = click_checkout + view_checkout + engagement_checkout
        return {
            "DATE": date.isoformat(),
            "AD_ID": ad["id"],
            "AD_GROUP_ID": ad["ad_group_id"],
            "CAMPAIGN_ID": ad["campaign_id"],
            "SPEND_IN_MICRO_DOLLAR": micros,
            "PAID_IMPRESSION": paid,
            "TOTAL_IMPRESSION": paid + int(paid * rng.uniform(0.02, 0.15)),
            "TOTAL_CLICKTHROUGH": clicks,
            "TOTAL_ENGAGEMENT": clicks + int(paid * rng.uniform(0.005, 0.02)),
            "TOTAL_CHECKOUT": checkout,
            "TOTAL_CLICK_CHECKOUT": click_checkout,
            "TOTAL_VIEW_CHECKOUT": view_checkout,
            "TOTAL_ENGAGEMENT_CHECKOUT": engagement_checkout,
            "TOTAL_CHECKOUT_VALUE_IN_MICRO_DOLLAR": checkout * rng.randrange(60_000_000, 400_000_000, 10_000),
        }

    def click(self, rng: random.Random) -> tuple[int, _Ad] | None:
        """A (day, ad) where a paid click happened, drawn by spend; None when nothing ever delivered."""
        if not self._days:
            return None
        day = self._days[bisect.bisect_right(self._days_cum, rng.randrange(self._days_cum[-1]))]
        cum = self._day_cum[day]
        ad = self._day_ads[day][bisect.bisect_right(cum, rng.randrange(cum[-1]))]
        return day, self.ad_plans[ad]


def _name_variant(rng: random.Random, name: str) -> str:
    """The campaign name retyped with other case and separators; same key under DESIGN's matching rule."""
    words = name.replace("-", " ").replace("_", " ").split()
    case = rng.choice((str.lower, str.upper, str.title, str))
    text = rng.choice((" ", "_", "-", " - ", "__", "  ")).join(case(word) for word in words)
    return text if text != name else "_".join(words).lower()


def _typo(rng: random.Random, name: str) -> str:
    """A misspelt or stale campaign name that matches no campaign."""
    if rng.random() < 0.3:
        return rng.choice(STALE_CAMPAIGN_NAMES)
    letters = [i for i, char in enumerate(name) if char.isalpha()]
    i = rng.choice(letters)
    return name[:i] + name[i + 1 :]  # a dropped letter: "Sprng 2025 - Prospecting"


# --- HubSpot -------------------------------------------------------------------------------------------------------
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
            props[_P["epik"]] = _epik(rng, clicked)
            if ad.tracking != "none":
                pinterest = "Pinterest" if rng.random() < 0.05 else "pinterest"
                medium = {"macros": "paid", "utm_id": "cpc"}.get(ad.tracking, "paid_social")
                utm = {"utm_source": pinterest, "utm_medium": medium, "utm_campaign": ad.utm_campaign}
                utm["utm_content"] = ad.utm_content
                source, data_1, data_2 = "PAID_SOCIAL", "Pinterest", ad.utm_campaign
            else:
                source, data_1 = "SOCIAL_MEDIA", "Pinterest"
            if ad.tracking == "macros":
                props[_P["pinterest_campaign_id"]] = ad.campaign["id"]
                props[_P["pinterest_ad_group_id"]] = ad.ad_group["id"]
                props[_P["pinterest_ad_id"]] = ad.record["id"]
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


def _later(rng: random.Random, after: int, mean: int, now: int) -> int:
    """An instant some exponential time (of the given mean) after ``after`` and before ``now``."""
    later = after + int(rng.expovariate(1.0) * mean)
    return later if later < now else rng.randrange(after, now)


def _parse_ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000 + 0.5)


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


# --- bad records ---------------------------------------------------------------------------------------------------
def _inject_bad_records(rng: random.Random, crm: _Crm, deals: int) -> None:
    """Spoil ``bad_record_count(deals)`` records of each kind, each on a different live record."""
    count = bad_record_count(deals)
    live = [i for i, deal in enumerate(crm.deals) if not deal["archived"]]
    used: set[int] = set()

    def choose(candidates: list[int]) -> list[int]:
        free = [i for i in candidates if i not in used]
        chosen = rng.sample(free, min(count, len(free)))
        used.update(chosen)
        return chosen

    def props(index: int) -> dict[str, str | None]:
        return crm.deals[index]["properties"]

    with_amount = [i for i in live if "amount" in props(i)]
    for i in choose(with_amount):
        amount = float(props(i)["amount"])
        props(i)["amount"] = f"{amount:,.2f} {props(i)['deal_currency_code']}"
        del props(i)["amount_in_home_currency"]
    for i in choose(with_amount):
        props(i)["amount"] = "TBD"
        del props(i)["amount_in_home_currency"]
    for i in choose(with_amount):
        props(i)["deal_currency_code"] = "XYZ"
        del props(i)["amount_in_home_currency"]
    live_set = set(live)
    for i in choose([i for i in crm.won if i in live_set]):
        del props(i)["closedate"]
    paid = [i for i in crm.paid if i in live_set]
    epik = _P["epik"]
    for i in choose(paid):
        value = props(i)[epik]
        cut = rng.randint(8, len(value) - 8)
        props(i)[epik] = rng.choice((f" {value}", f"{value} ", f"  {value} ", f"{value[:cut]} {value[cut:]}"))
    for i in choose([i for i in paid if props(i)[epik].endswith("=")]):
        props(i)[epik] = props(i)[epik].replace("=", "%3D")
    with_phone = [i for i, contact in enumerate(crm.contacts) if "phone" in contact["properties"]]
    for i in rng.sample(with_phone, min(count, len(with_phone))):
        crm.contacts[i]["properties"]["phone"] = rng.choice(GARBAGE_PHONES)


# --- static documents ----------------------------------------------------------------------------------------------
def _config(rng: random.Random, today: dt.date, account_id: str) -> dict[str, Any]:
    hexes = [16**n for n in (8, 4, 4, 4, 12)]
    uuid = "-".join(f"{rng.randrange(size):0{len(hex(size)) - 3}x}" for size in hexes)
    alphabet = string.ascii_uppercase + "234567"

    def pinterest_token() -> str:
        return "pina_" + "".join(rng.choices(alphabet, k=96))

    return {
        "hubspot_token": f"pat-na1-{uuid}",
        "pinterest_ads_token": pinterest_token(),
        "pinterest_conversions_token": pinterest_token(),
        "ad_account_id": account_id,
        "currency": HOME_CURRENCY,
        "timezone": TIMEZONE,
        "today": today.isoformat(),
        "properties": dict(PROPERTIES),
    }


def _pipelines() -> dict[str, Any]:
    """The body of GET /crm/v3/pipelines/deals (metadata values are strings, as HubSpot sends them)."""
    results = []
    for order, (pipeline_id, label, stages) in enumerate(PIPELINES):
        created = "2021-03-04T15:26:40.124Z" if pipeline_id == "default" else "2023-09-12T08:14:05.512Z"
        results.append(
            {
                "label": label,
                "displayOrder": order,
                "id": pipeline_id,
                "stages": [
                    {
                        "label": stage_label,
                        "displayOrder": position,
                        "metadata": {
                            "isClosed": "true" if probability in ("1.0", "0.0") else "false",
                            "probability": probability,
                        },
                        "id": stage_id,
                        "createdAt": created,
                        "updatedAt": created,
                        "archived": False,
                        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                    }
                    for position, (stage_id, stage_label, probability) in enumerate(stages)
                ],
                "createdAt": created,
                "updatedAt": created,
                "archived": False,
            }
        )
    return {"results": results}


def _property(
    name: str,
    label: str,
    kind: str,
    field_type: str,
    group: str,
    *,
    options: tuple[tuple[str, str], ...] = (),
    custom: bool = False,
    calculated: bool = False,
    description: str = "",
) -> dict[str, Any]:
    """One Property as GET /crm/v3/properties/{object} returns it."""
    prop: dict[str, Any] = {
        "updatedAt": "2024-11-05T10:02:33.871Z" if custom else PORTAL_CREATED,
        "createdAt": "2023-09-12T08:20:11.004Z" if custom else PORTAL_CREATED,
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": [
            {"label": option_label, "value": value, "displayOrder": order, "hidden": False}
            for order, (value, option_label) in enumerate(options)
        ],
        "displayOrder": -1,
        "calculated": calculated,
        "externalOptions": False,
        "hasUniqueValue": name == PROPERTIES["legacy_deal_id"],
        "hidden": False,
        "hubspotDefined": not custom,
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": calculated,
        },
        "formField": not calculated,
    }
    if custom:
        prop["createdUserId"] = prop["updatedUserId"] = "48213307"
    if kind == "number" and name.startswith("amount"):
        prop["showCurrencySymbol"] = True
    return prop


def _properties() -> dict[str, list[dict[str, Any]]]:
    """Deal and contact property definitions: the standard ones the project reads plus this portal's custom ones."""
    booleans = (("true", "True"), ("false", "False"))
    stages = tuple((s[0], s[1]) for _, _, pipeline_stages in PIPELINES for s in pipeline_stages)
    deal, text, when = "dealinformation", ("string", "text"), ("datetime", "date")
    deals = [
        _property("amount", "Amount", "number", "number", deal),
        _property(
            "amount_in_home_currency",
            "Amount in company currency",
            "number",
            "calculation_equation",
            deal,
            calculated=True,
        ),
        _property("closedate", "Close Date", *when, deal),
        _property("createdate", "Create Date", *when, deal),
        _property(
            "deal_currency_code",
            "Currency",
            "enumeration",
            "select",
            deal,
            options=(("USD", "US Dollar"), ("EUR", "Euro")),
        ),
        _property("dealname", "Deal Name", *text, deal),
        _property("dealstage", "Deal Stage", "enumeration", "radio", deal, options=stages),
        _property(
            "hs_analytics_source",
            "Original Source Type",
            "enumeration",
            "select",
            "analyticsinformation",
            options=tuple((s, s.replace("_", " ").title()) for s in ANALYTICS_SOURCES),
            calculated=True,
        ),
        _property(
            "hs_analytics_source_data_1", "Original Source Drill-Down 1", *text, "analyticsinformation", calculated=True
        ),
        _property(
            "hs_analytics_source_data_2", "Original Source Drill-Down 2", *text, "analyticsinformation", calculated=True
        ),
        _property(
            "hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", deal, options=booleans, calculated=True
        ),
        _property("hs_lastmodifieddate", "Last Modified Date", *when, deal, calculated=True),
        _property("hs_merged_object_ids", "Merged Deal IDs", "enumeration", "checkbox", deal, calculated=True),
        _property("hs_object_id", "Record ID", "number", "number", deal, calculated=True),
        _property(
            "pipeline", "Pipeline", "enumeration", "select", deal, options=tuple((p[0], p[1]) for p in PIPELINES)
        ),
    ]
    deals += [
        _property(f"hs_v2_date_entered_{stage_id}", f'Date entered "{label}"', *when, "deal_activity", calculated=True)
        for stage_id, label in stages
    ]
    labels = {
        "epik": "Pinterest click ID (epik)",
        "utm_source": "UTM source",
        "utm_medium": "UTM medium",
        "utm_campaign": "UTM campaign",
        "utm_content": "UTM content",
        "pinterest_campaign_id": "Pinterest campaign ID",
        "pinterest_ad_group_id": "Pinterest ad group ID",
        "pinterest_ad_id": "Pinterest ad ID",
        "ip_address": "Form IP address",
        "user_agent": "Form user agent",
        "legacy_deal_id": "Legacy CRM deal ID",
    }
    deals += [
        _property(PROPERTIES[logical], label, *text, "pinterest_attribution", custom=True)
        for logical, label in labels.items()
    ]
    contact = "contactinformation"
    consent_options = (
        ("granted", "Granted"),
        ("denied", "Denied"),
        ("true", "Yes (legacy form)"),
        ("false", "No (legacy form)"),
    )
    contacts = [
        _property("country", "Country/Region", *text, contact),
        _property("createdate", "Create Date", *when, contact),
        _property("email", "Email", "string", "text", contact),
        _property("firstname", "First Name", *text, contact),
        _property(
            "hs_additional_emails", "Additional email addresses", "enumeration", "checkbox", contact, calculated=True
        ),
        _property("hs_object_id", "Record ID", "number", "number", contact, calculated=True),
        _property("lastmodifieddate", "Last Modified Date", *when, contact, calculated=True),
        _property("lastname", "Last Name", *text, contact),
        _property("mobilephone", "Mobile Phone Number", "string", "phonenumber", contact),
        _property("phone", "Phone Number", "string", "phonenumber", contact),
        _property(
            PROPERTIES["ads_consent"],
            "Ads measurement consent",
            "enumeration",
            "select",
            contact,
            options=consent_options,
            custom=True,
            description="Consent to share conversions with ad platforms.",
        ),
    ]
    return {"deals": deals, "contacts": contacts}
