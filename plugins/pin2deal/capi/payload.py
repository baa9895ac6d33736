"""Pure rules of the Conversions API: which deal becomes which ``lead``, ``checkout`` or stage event, hashed how, or
why not.

No I/O here: ``pin2deal.capi.send`` reads the outbox, calls ``decide`` per row and sends what it returns. The
rules (docs/capi.md):

- one event per lineage and kind (``EVENT_KINDS``, the event name too): a ``lead`` at the lineage's lead moment, a
  ``checkout`` at its won time, and, for each stage mapped in ``stage_events``, a ``stage:<stage id>`` at its first
  entry into the stage, named as mapped; ``event_id`` is the outbox key (``won_<stable key>``; a lead's
  ``lead_<stable key>`` or the tag's event id; ``stage_<stage id>_<stable key>``); a lineage that Pinterest already
  has (or may have) an event of the kind for under another event id, e.g. a deal merged into this one, gets no
  other;
- ``event_time`` = the event's moment in epoch seconds, ``action_source`` a setting (``offline`` by default);
- ``user_data``: ``em``, ``ph``, ``fn``, ``ln``, ``ct``, ``st``, ``zp``, ``country``, ``ge``, ``db``,
  ``external_id`` as SHA-256 hex digests of normalised values (email trimmed and lower-cased; phone in E.164 digits,
  read with the contact's country, then the default region; names trimmed and lower-cased; the address, gender and
  date of birth as Pinterest's docs define them, ``normalize.py``, a value that cannot be used leaving out its own
  field only; external id ``hubspot_contact:<id>``), hashed here and nowhere else; ``click_id`` = the raw ``epik``,
  never hashed; IP and user agent only when captured;
- ``partner_name``: ``PARTNER_NAME``, on every event;
- ``custom_data`` (a checkout's only: a lead has no order nor value): ``order_id`` = the stable key; ``value`` as a
  decimal string with its ISO 4217 ``currency``, both or neither: both are optional for Pinterest, so a won deal
  whose amount or currency is unusable is still reported, without them, and the decision carries the warning the
  ledger keeps;
- skipped, with a reason, when Pinterest could not use it or must not get it (``SKIP_REASONS``).

``validate_event``/``validate_body`` check an event against the request schema of ``POST /v5/ad_accounts/{id}/
events`` in Pinterest's OpenAPI description (required fields, types, the closed field sets, ``user_data``'s "em,
hashed_maids, or IP + user agent" rule, 1 to 1,000 events), so a malformed event is caught before it can turn a
whole request into a 400.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pin2deal.normalize import (
    ISO_4217_CODES,
    InvalidValue,
    blank,
    normalize_birth_date,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_gender,
    normalize_phone,
    normalize_state,
    normalize_zip,
    phone_region,
)

# The kinds of event each lineage gets, each its own Pinterest event_name; the documented defaults: both sent.
LEAD, CHECKOUT = EVENT_KINDS = ("lead", "checkout")
# A stage mapped to an event name (``stage_events``) is the kind ``stage:<stage id>``.
STAGE_KIND_PREFIX = "stage:"
# The event names of the events request schema (event_name's list); a stage may send any but the two kinds above,
# which each lineage gets once already.
EVENT_NAMES = (
    "add_payment_info", "add_to_cart", "add_to_wishlist", "app_install", "checkout", "custom", "initiate_checkout",
    "lead", "page_visit", "search", "signup", "subscribe", "view_category", "view_content", "watch_video",
)  # fmt: skip
STAGE_EVENT_NAMES = tuple(name for name in EVENT_NAMES if name not in EVENT_KINDS)
ACTION_SOURCES = ("app_android", "app_ios", "web", "offline")
CHANNELS = ("pinterest_paid", "pinterest_organic", "unknown", "other")
CONSENT_SOURCES = ("deal", "contact", "deal_and_contact", "ignore")
CONSENT_DENIED_MODES = ("suppress", "opt_out")
MAX_EVENTS_PER_REQUEST = 1000
# Who sends the events on the advertiser's behalf: Pinterest's convention for partner_name is "ss-" + the partner's
# name, lower case (the events request schema's description; e.g. "ss-shopify").
PARTNER_NAME = "ss-pin2deal"
PINTEREST_MAX_EVENT_AGE_DAYS = 7  # Pinterest refuses events older than this (observed; the sandbox does too)

# Why a won deal was not sent (ops.capi_ledger.reason of state 'skipped'), in the order they are checked.
LINEAGE_ALREADY_REPORTED = "lineage_already_reported"
CHANNEL_NOT_CONFIGURED = "channel_not_configured"
NO_WON_TIME = "no_won_time"
NO_LEAD_TIME = "no_lead_time"
TOO_OLD = "too_old"
CONSENT_DENIED = "consent_denied"
NO_IDENTIFIER = "no_identifier"
INVALID_PAYLOAD = "invalid_payload"
DRY_RUN = "dry_run"
TEST_MODE = "test_mode"
SKIP_REASONS = (
    LINEAGE_ALREADY_REPORTED, CHANNEL_NOT_CONFIGURED, NO_WON_TIME, NO_LEAD_TIME, TOO_OLD, CONSENT_DENIED, NO_IDENTIFIER,
    INVALID_PAYLOAD, DRY_RUN, TEST_MODE,
)  # fmt: skip
# Skips that decide nothing (a dry or test run): the next real run decides the event. Every other skip is final until
# the deal's inputs or the settings change.
OPEN_SKIPS = (DRY_RUN, TEST_MODE)


def _check_channels(where: str, channels: Sequence[str]) -> None:
    unknown = [channel for channel in channels if channel not in CHANNELS]
    if unknown or not channels:
        raise ValueError(f"{where}: {unknown or '[]'} not a non-empty subset of {list(CHANNELS)}")


def _check_age(where: str, days: float) -> None:
    if not 0 < days <= PINTEREST_MAX_EVENT_AGE_DAYS * 10:
        raise ValueError(f"{where}: {days!r} is not a number of days in (0, 70]")


def stage_kind(stage: str) -> str:
    """The event kind of a mapped stage."""
    return f"{STAGE_KIND_PREFIX}{stage}"


@dataclass(frozen=True)
class KindSettings:
    """One event kind's own settings; ``None``: the run-wide setting of the same name."""

    enabled: bool = True
    channels: tuple[str, ...] | None = None
    max_event_age_days: float | None = None


@dataclass(frozen=True)
class CapiSettings:
    """What the sender sends and how; every field is an operator argument (docs/capi.md, "Settings")."""

    channels: tuple[str, ...] = ("pinterest_paid",)
    action_source: str = "offline"
    max_event_age_days: float = PINTEREST_MAX_EVENT_AGE_DAYS
    consent_source: str = "deal_and_contact"
    consent_denied: str = "suppress"
    default_region: str = "US"
    batch_size: int = MAX_EVENTS_PER_REQUEST
    kinds: Mapping[str, KindSettings] = field(default_factory=dict)  # by event kind; a kind left out: defaults
    stage_events: Mapping[str, str] = field(default_factory=dict)  # stage id -> event name; none by default

    def __post_init__(self) -> None:
        _check_channels("channels", self.channels)
        for stage, name in self.stage_events.items():
            if not isinstance(stage, str) or not stage.strip() or stage != stage.strip():
                raise ValueError(f"stage_events: {stage!r} is not a HubSpot stage id")
            if name not in STAGE_EVENT_NAMES:
                raise ValueError(
                    f"stage_events.{stage}: {name!r} is not an event name a stage can send: one of "
                    f"{list(STAGE_EVENT_NAMES)} (lead and checkout are sent by their own kinds)"
                )
        unknown_kinds = sorted(set(self.kinds) - set(self.all_kinds))
        if unknown_kinds:
            raise ValueError(f"kinds: {unknown_kinds} are not event kinds ({list(self.all_kinds)})")
        for kind, own in self.kinds.items():
            if own.channels is not None:
                _check_channels(f"kinds.{kind}.channels", own.channels)
            if own.max_event_age_days is not None:
                _check_age(f"kinds.{kind}.max_event_age_days", own.max_event_age_days)
        for name, value, allowed in (
            ("action_source", self.action_source, ACTION_SOURCES),
            ("consent_source", self.consent_source, CONSENT_SOURCES),
            ("consent_denied", self.consent_denied, CONSENT_DENIED_MODES),
        ):
            if value not in allowed:
                raise ValueError(f"{name}: {value!r} is not one of {list(allowed)}")
        _check_age("max_event_age_days", self.max_event_age_days)
        if not 1 <= self.batch_size <= MAX_EVENTS_PER_REQUEST:
            raise ValueError(f"batch_size: {self.batch_size!r} is not in 1..{MAX_EVENTS_PER_REQUEST}")

    @property
    def all_kinds(self) -> tuple[str, ...]:
        """``lead``, ``checkout`` and a ``stage:<stage id>`` per mapped stage."""
        return (*EVENT_KINDS, *sorted(stage_kind(stage) for stage in self.stage_events))

    @property
    def enabled_kinds(self) -> list[str]:
        """The kinds a run sends unless its ``enable_event_kinds`` turns more on (a mapped stage is on unless its
        kind's settings switch it off)."""
        return [kind for kind in self.all_kinds if self.kinds.get(kind, KindSettings()).enabled]

    def event_name(self, kind: str) -> str:
        """Pinterest's ``event_name`` of a kind: the kind itself, or a stage's mapped name."""
        if kind.startswith(STAGE_KIND_PREFIX):
            stage = kind.removeprefix(STAGE_KIND_PREFIX)
            if stage not in self.stage_events:
                raise ValueError(f"{kind}: stage {stage!r} is not mapped in stage_events")
            return self.stage_events[stage]
        return kind

    def kind_channels(self, kind: str) -> tuple[str, ...]:
        own = self.kinds.get(kind)
        if own is None or own.channels is None:
            return self.channels
        return own.channels

    def kind_max_event_age_days(self, kind: str) -> float:
        own = self.kinds.get(kind)
        if own is None or own.max_event_age_days is None:
            return self.max_event_age_days
        return own.max_event_age_days

    def decision_inputs(self) -> dict[str, Any]:
        """The settings ``decide`` reads: when they change, events already decided are decided again. Whether a kind
        is enabled is not one (a kind switched off is not decided at all); a kind's own channels and age limit are,
        listed only when set, so the defaults read as they did before kinds existed."""
        inputs: dict[str, Any] = {
            "channels": sorted(self.channels), "action_source": self.action_source,
            "max_event_age_days": self.max_event_age_days, "consent_source": self.consent_source,
            "consent_denied": self.consent_denied, "default_region": self.default_region,
        }  # fmt: skip
        kinds = {
            kind: {name: value for name, value in (("channels", sorted(own.channels or ()) or None),
                                                   ("max_event_age_days", own.max_event_age_days)) if value}
            for kind, own in sorted(self.kinds.items())
        }  # fmt: skip
        kinds = {kind: own for kind, own in kinds.items() if own}
        if kinds:
            inputs["kinds"] = kinds
        return inputs


@dataclass(frozen=True)
class Decision:
    """An event to send, or the reason (and its detail) why the deal is skipped; ``warning``: what a built event
    leaves out and why (the ledger's ``data_warning``)."""

    event: dict[str, Any] | None
    reason: str | None = None
    detail: str | None = None
    warning: str | None = None


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def payload_hash(event: Mapping[str, Any]) -> str:
    """The ledger's fingerprint of what was (or would be) sent: SHA-256 of the canonical JSON."""
    return sha256_hex(canonical_json(event))


def encode_event(event: Mapping[str, Any]) -> tuple[str, str]:
    """The event's canonical JSON (the bytes sent) and its SHA-256 (``payload_hash``), encoded once."""
    text = canonical_json(event)
    return text, sha256_hex(text)


def normalize_name(value: str | None) -> str | None:
    """Names as Pinterest matches them before hashing: trimmed, inner spaces collapsed, lower-cased."""
    if blank(value):
        return None
    return " ".join(value.split()).lower()


def contact_phone(contact: Mapping[str, Any], default_region: str) -> str | None:
    """E.164 digits (no ``+``): the extraction's E.164 value, else the raw number read with the contact's country
    and then the default region. An unusable number is no phone (the extraction already reported it)."""
    e164 = contact.get("phone_e164")
    if blank(e164):
        try:
            e164 = normalize_phone(contact.get("phone"), phone_region(contact.get("country"), default_region))
        except InvalidValue:
            e164 = None
    return e164.lstrip("+") if e164 else None


def _hashed(values: Sequence[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(sha256_hex(value), None)
    return list(seen)


def _usable(normalize: Callable[..., str | None], *args: Any) -> str | None:
    """``normalize(*args)``, or None for a value it refuses (the extraction reported it, naming contact and field)."""
    try:
        return normalize(*args)
    except InvalidValue:
        return None


def contact_location(contact: Mapping[str, Any], default_region: str) -> dict[str, str | None]:
    """A contact's ``ct``, ``st``, ``zp`` and ``country`` before hashing (Pinterest's normalisation, docs/capi.md
    "Matching"); the ZIP code and state rules follow the contact's country, else the default region."""
    country = _usable(normalize_country, contact.get("country"))
    region = country or default_region.lower()
    return {
        "ct": _usable(normalize_city, contact.get("city")),
        "st": _usable(normalize_state, contact.get("state"), region),
        "zp": _usable(normalize_zip, contact.get("zip"), region),
        "country": country,
    }


def user_data(row: Mapping[str, Any], settings: CapiSettings) -> dict[str, Any]:
    """The event's ``user_data`` from the deal's contacts, click id, IP and user agent (empty fields omitted)."""
    contacts = row.get("contacts") or []
    emails = []
    for contact in contacts:
        try:
            emails.append(normalize_email(contact.get("email")))
        except InvalidValue:
            continue
    locations = [contact_location(contact, settings.default_region) for contact in contacts]
    data: dict[str, Any] = {
        "em": _hashed(emails),
        "ph": _hashed([contact_phone(contact, settings.default_region) for contact in contacts]),
        "fn": _hashed([normalize_name(contact.get("first_name")) for contact in contacts]),
        "ln": _hashed([normalize_name(contact.get("last_name")) for contact in contacts]),
        **{name: _hashed([location[name] for location in locations]) for name in ("ct", "st", "zp", "country")},
        # Only present when the roles gender / date_of_birth are mapped (docs/hubspot.md).
        "ge": _hashed([_usable(normalize_gender, contact.get("gender")) for contact in contacts]),
        "db": _hashed([_usable(normalize_birth_date, contact.get("birth_date")) for contact in contacts]),
        "external_id": _hashed(
            [f"hubspot_contact:{contact['contact_id']}" for contact in contacts if contact.get("contact_id")]
        ),
    }
    data = {name: values for name, values in data.items() if values}
    epik = row.get("epik")
    if not blank(epik):  # the mart keeps valid click ids only (validated at extraction): sent exactly as stored
        data["click_id"] = epik
    ip, agent = row.get("ip_address"), row.get("user_agent")
    if not blank(ip):
        data["client_ip_address"] = ip.strip()
    if not blank(agent):
        data["client_user_agent"] = agent.strip()
    return data


def consent_denied(row: Mapping[str, Any], source: str) -> bool:
    """Denied when the configured source says no: the deal's property, any associated contact's, or either.
    Not captured (NULL) is not a denial."""
    deal = row.get("deal_consent") is False
    contact = any(contact.get("consent") is False for contact in row.get("contacts") or [])
    return {"deal": deal, "contact": contact, "deal_and_contact": deal or contact, "ignore": False}[source]


def decimal_string(amount: Decimal) -> str:
    """``Decimal('1200.50')`` -> ``"1200.50"``: plain notation, never an exponent."""
    return format(amount, "f")


def iso_currency(value: str | None) -> str | None:
    """An ISO 4217 code read case-insensitively (``" usd"`` -> ``"USD"``), else None."""
    if blank(value):
        return None
    code = value.strip().upper()
    return code if code in ISO_4217_CODES else None


def event_value(row: Mapping[str, Any]) -> tuple[dict[str, str], str | None]:
    """``custom_data``'s ``value`` and ``currency`` (both, or neither: a value in no stated currency would be read in
    the ad account's), and the warning when the deal's amount or currency cannot be used."""
    amount, amount_raw = row.get("amount"), row.get("amount_raw")
    if amount is not None and not isinstance(amount, Decimal):
        amount = Decimal(str(amount))
    currency = iso_currency(row.get("currency")) or iso_currency(row.get("currency_raw"))
    if amount is None:
        problem = "no amount" if blank(amount_raw) else f"amount {amount_raw.strip()!r} is not a number"
    elif not amount.is_finite() or amount < 0:
        problem = f"amount {(amount_raw or decimal_string(amount)).strip()!r} is negative"
    elif currency is None:
        currency_raw = row.get("currency_raw") or row.get("currency")
        problem = "no currency" if blank(currency_raw) else f"currency {currency_raw!r} is not an ISO 4217 code"
    else:
        return {"value": decimal_string(amount), "currency": currency}, None
    return {}, f"{problem}: sent without value and currency"


_NO_MOMENT = {
    CHECKOUT: (NO_WON_TIME, "won, but without a won time (no entry time into its closed-won stage, no closedate)"),
    LEAD: (NO_LEAD_TIME, "no lead moment known (no createdate, or only a CRM migration's import instant)"),
}
_HAPPENED = {CHECKOUT: "won", LEAD: "created"}


def _happened(kind: str) -> str:
    return _HAPPENED.get(kind) or f"entered stage {kind.removeprefix(STAGE_KIND_PREFIX)!r}"


def decide(row: Mapping[str, Any], settings: CapiSettings, now: dt.datetime) -> Decision:
    """The event of one outbox row (its kind's), or why it is skipped (checked in the order of ``SKIP_REASONS``)."""
    kind = row["event_kind"]
    if row.get("reported_event_id"):
        return Decision(
            None, LINEAGE_ALREADY_REPORTED, f"{row['reported_event_id']} (deal {row.get('reported_deal_id')}, "
            f"{row.get('reported_state')}) already reported this lineage's {kind}: one lineage, one {kind}"
        )  # fmt: skip
    channels = settings.kind_channels(kind)
    if row["channel"] not in channels:
        return Decision(None, CHANNEL_NOT_CONFIGURED, f"channel {row['channel']!r} is not in {list(channels)} ({kind})")
    event_at: dt.datetime | None = row["event_at"]
    if event_at is None:
        return Decision(None, *_NO_MOMENT[kind])
    max_age = settings.kind_max_event_age_days(kind)
    if event_at < now - dt.timedelta(days=max_age):
        return Decision(
            None, TOO_OLD, f"{_happened(kind)} at {event_at:%Y-%m-%dT%H:%M:%SZ}, more than {max_age:g} days "
            f"before the API's clock ({now:%Y-%m-%dT%H:%M:%SZ})"
        )  # fmt: skip
    denied = consent_denied(row, settings.consent_source)
    if denied and settings.consent_denied == "suppress":
        return Decision(None, CONSENT_DENIED, f"ads consent denied ({settings.consent_source})")
    data = user_data(row, settings)
    if not (data.get("em") or (data.get("client_ip_address") and data.get("client_user_agent"))):
        return Decision(None, NO_IDENTIFIER, "no email, and not both IP address and user agent")
    event: dict[str, Any] = {
        "event_name": settings.event_name(kind),
        "action_source": settings.action_source,
        "event_time": int(event_at.timestamp()),
        "event_id": row["event_id"],
        "user_data": data,
        "partner_name": PARTNER_NAME,
    }
    warning = None
    if kind == CHECKOUT:
        value, warning = event_value(row)
        event["custom_data"] = {**value, "order_id": row["stable_key"]}
    if denied:
        event["opt_out"] = True
    problems = validate_event(event)
    if problems:
        return Decision(None, INVALID_PAYLOAD, "; ".join(problems))
    return Decision(event, warning=warning)


# -- the request schema of POST /v5/ad_accounts/{ad_account_id}/events (ConversionEvents) -------------------------
_STRING, _NULLABLE_STRING, _INTEGER, _BOOLEAN = "string", "string?", "integer", "boolean"
_STRINGS, _OBJECT = "[string]", "object"
EVENT_FIELDS = {
    "event_name": _STRING, "action_source": _STRING, "event_time": _INTEGER, "event_id": _STRING,
    "user_data": _OBJECT, "custom_data": _OBJECT, "opt_out": _BOOLEAN, "wifi": _BOOLEAN, "app_info": _OBJECT,
    "device_info": _OBJECT, "event_source_url": _NULLABLE_STRING, "partner_name": _NULLABLE_STRING,
    "app_id": _NULLABLE_STRING, "app_name": _NULLABLE_STRING, "app_version": _NULLABLE_STRING,
    "device_brand": _NULLABLE_STRING, "device_carrier": _NULLABLE_STRING, "device_model": _NULLABLE_STRING,
    "device_type": _NULLABLE_STRING, "os_version": _NULLABLE_STRING, "language": _NULLABLE_STRING,
}  # fmt: skip
REQUIRED_EVENT_FIELDS = ("event_name", "action_source", "event_time", "user_data", "event_id")
USER_DATA_FIELDS = {
    **{name: _STRINGS for name in ("em", "hashed_maids", "ph", "ge", "db", "ln", "fn", "ct", "st", "zp", "country",
                                   "external_id")},
    "client_ip_address": _STRING, "client_user_agent": _STRING, "click_id": _NULLABLE_STRING,
    "partner_id": _NULLABLE_STRING,
}  # fmt: skip
CUSTOM_DATA_FIELDS = {
    **{name: _NULLABLE_STRING for name in ("currency", "value", "content_name", "content_category", "content_brand",
                                           "order_id", "search_string", "opt_out_type", "np", "predicted_ltv",
                                           "external_measurement_id")},
    "content_ids": _STRINGS, "contents": "[object]", "num_items": _INTEGER,
    "external_measurement_vendor_id": "integer?",
}  # fmt: skip


def _is_string(value: Any) -> bool:
    return type(value) is str


def _is_strings(value: Any) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


_CHECKS = {
    _STRING: _is_string,
    _NULLABLE_STRING: lambda value: value is None or type(value) is str,
    _INTEGER: lambda value: type(value) is int,
    "integer?": lambda value: value is None or type(value) is int,
    _BOOLEAN: lambda value: type(value) is bool,
    _OBJECT: lambda value: type(value) is dict,
    _STRINGS: _is_strings,
    "[object]": lambda value: type(value) is list and all(type(item) is dict for item in value),
}
_EVENT_CHECKS, _USER_DATA_CHECKS, _CUSTOM_DATA_CHECKS = (
    {name: _CHECKS[kind] for name, kind in fields.items()}
    for fields in (EVENT_FIELDS, USER_DATA_FIELDS, CUSTOM_DATA_FIELDS)
)


def _check_fields(
    obj: Mapping[str, Any], checks: Mapping[str, Any], fields: Mapping[str, str], where: str
) -> list[str]:
    problems = []
    for name, value in obj.items():
        check = checks.get(name)
        if check is None:
            problems.append(f"{where}{name}: not a field of the events request schema")
        elif not check(value):
            problems.append(f"{where}{name}: {value!r} is not of type {fields[name]}")
    return problems


def validate_event(event: Any) -> list[str]:
    """Every way ``event`` violates the events request schema (empty: it conforms)."""
    if not isinstance(event, dict):
        return ["the event is not an object"]
    problems = [f"{name}: required" for name in REQUIRED_EVENT_FIELDS if name not in event]
    problems += _check_fields(event, _EVENT_CHECKS, EVENT_FIELDS, "")
    data = event.get("user_data")
    if isinstance(data, dict):
        problems += _check_fields(data, _USER_DATA_CHECKS, USER_DATA_FIELDS, "user_data.")
        device = "client_ip_address" in data and "client_user_agent" in data
        if not ("em" in data or "hashed_maids" in data or device):
            problems.append("user_data: needs em, hashed_maids, or client_ip_address and client_user_agent")
    custom = event.get("custom_data")
    if isinstance(custom, dict):
        problems += _check_fields(custom, _CUSTOM_DATA_CHECKS, CUSTOM_DATA_FIELDS, "custom_data.")
    return problems


def validate_body(body: Any) -> list[str]:
    """Problems of a whole request body ``{"data": [event, ...]}``, each naming the event's index."""
    if not isinstance(body, dict) or set(body) != {"data"}:
        return ["the body must be an object with exactly one field, data"]
    events = body["data"]
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS_PER_REQUEST:
        return [f"data: 1 to {MAX_EVENTS_PER_REQUEST} events are required"]
    return [f"data[{index}].{problem}" for index, event in enumerate(events) for problem in validate_event(event)]
