"""Small pure functions that turn CRM strings into typed values, strictly.

Each returns ``None`` for an empty value and raises ``InvalidValue`` (a ``ValueError`` whose message is the
reason, e.g. "not a number") for a value it cannot type. Callers keep the raw value, record the reason in
``ops.record_issues`` and load the rest of the record: a bad value is never guessed into a good one (an
unparsable amount is not 0, a URL-encoded click id is not decoded). The CAPI payload builder reuses the email
and phone functions, so hashing sees exactly what the warehouse stores.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation

import phonenumbers


class InvalidValue(ValueError):
    """A value that cannot be typed; ``str(error)`` is the reason recorded beside the field name."""


# Active ISO 4217 codes (2025), plus the fund/precious-metal codes HubSpot accepts as deal currencies.
ISO_4217_CODES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD
    CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK
    LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR
    PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
    THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XCD XCG
    XDR XOF XPD XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL
    """.split()
)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_EPOCH_MS = re.compile(r"-?\d{1,15}")
_EPIK = re.compile(r"[A-Za-z0-9_\-.~+/=]+")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_NUMBER_CHARS = 100  # PostgreSQL numeric holds more, but no CRM amount is this long: it is a paste accident
MAX_EPIK_CHARS = 512  # Pinterest click ids are ~30-100 characters
MAX_EMAIL_CHARS = 254  # RFC 5321
# Business dates outside these years are typos or placeholders (epoch 0, 2999-12-31), not facts to compute with.
PLAUSIBLE_YEARS = (1980, 2099)
_TRUE = frozenset({"true", "yes", "y", "1", "on", "granted", "opt_in", "opted_in"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "denied", "opt_out", "opted_out"})


def blank(value: str | None) -> bool:
    return value is None or not value.strip()


def parse_decimal(value: str | None) -> Decimal | None:
    """``"1500.50"`` -> ``Decimal("1500.50")``; separators, currency signs, NaN and infinities are not numbers."""
    if blank(value):
        return None
    text = value.strip()
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidValue(f"number too long ({len(text)} characters)")
    if not _DECIMAL.fullmatch(text):
        raise InvalidValue("not a number")
    try:
        return Decimal(text)
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only what Decimal parses
        raise InvalidValue("not a number") from error


def parse_currency(value: str | None) -> str | None:
    """An ISO 4217 code, upper-cased (HubSpot stores ``deal_currency_code`` as e.g. ``"EUR"``)."""
    if blank(value):
        return None
    code = value.strip().upper()
    if code not in ISO_4217_CODES:
        raise InvalidValue("not an ISO 4217 currency code")
    return code


def parse_timestamp(value: str | None) -> dt.datetime | None:
    """ISO-8601 (with or without offset; naive means UTC) or epoch milliseconds -> an aware UTC datetime."""
    if blank(value):
        return None
    text = value.strip()
    if _EPOCH_MS.fullmatch(text):
        try:
            return _EPOCH + dt.timedelta(milliseconds=int(text))
        except OverflowError as error:
            raise InvalidValue("epoch milliseconds out of range") from error
    try:
        parsed = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as error:
        raise InvalidValue("not an ISO-8601 or epoch-milliseconds timestamp") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_business_timestamp(value: str | None) -> dt.datetime | None:
    """``parse_timestamp`` for dates people type (created, closed, stage entered): outside ``PLAUSIBLE_YEARS`` is
    an error, so a placeholder never becomes a time to close of 55 years."""
    moment = parse_timestamp(value)
    if moment is not None and not PLAUSIBLE_YEARS[0] <= moment.year <= PLAUSIBLE_YEARS[1]:
        raise InvalidValue(f"implausible date (before {PLAUSIBLE_YEARS[0]} or after {PLAUSIBLE_YEARS[1]})")
    return moment


def to_epoch_ms(moment: dt.datetime) -> int:
    """An aware datetime as HubSpot's filter value for datetime properties (epoch milliseconds)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware (UTC) datetime")
    return calendar.timegm(moment.utctimetuple()) * 1000 + moment.microsecond // 1000


def parse_bool(value: str | None) -> bool | None:
    """HubSpot booleans are ``"true"``/``"false"``; consent properties also say granted/denied, yes/no."""
    if blank(value):
        return None
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValue("not a boolean")


def validate_epik(value: str | None) -> str | None:
    """Pinterest's click id exactly as Pinterest issued it (sent raw to CAPI): no whitespace, no URL-encoding."""
    if blank(value):
        return None
    if len(value) > MAX_EPIK_CHARS:
        raise InvalidValue(f"too long ({len(value)} characters)")
    if any(char.isspace() for char in value):
        raise InvalidValue("contains whitespace")
    if _PERCENT_ESCAPE.search(value):
        raise InvalidValue("URL-encoded (contains %XX escapes)")
    if not _EPIK.fullmatch(value):
        bad = next(char for char in value if not _EPIK.fullmatch(char))
        raise InvalidValue(f"unexpected character {bad!r}")
    return value


def normalize_email(value: str | None) -> str | None:
    """Trimmed and lower-cased, as Pinterest's matching expects before hashing."""
    if blank(value):
        return None
    email = value.strip().lower()
    if len(email) > MAX_EMAIL_CHARS or not _EMAIL.fullmatch(email):
        raise InvalidValue("not an email address")
    return email


def normalize_phone(value: str | None, default_region: str = "US") -> str | None:
    """E.164 (``+14155552671``); numbers without a country code are read in ``default_region``."""
    if blank(value):
        return None
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidValue("not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue(f"not a valid phone number (default region {default_region})")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_REGION_ALIASES = {"usa": "US", "u.s.a.": "US", "u.s.": "US", "uk": "GB", "u.k.": "GB", "great britain": "GB",
                   "england": "GB"}  # fmt: skip


@functools.cache
def _region_names() -> dict[str, str]:
    """Country names in every language phonenumbers knows ("Deutschland", "Germany", ...) -> region code."""
    from phonenumbers.geodata.locale import LOCALE_DATA  # 0.4 s of data: loaded on first use, not at DAG parse

    names: dict[str, set[str]] = {}
    for region, by_language in LOCALE_DATA.items():
        for name in by_language.values():
            if name and not name.startswith("*"):
                names.setdefault(name.casefold(), set()).add(region)
    return {name: regions.pop() for name, regions in names.items() if len(regions) == 1} | _REGION_ALIASES


def phone_region(country: str | None, default_region: str = "US") -> str:
    """The region to read a national phone number in: the contact's country (ISO code or name), else the default.

    HubSpot's ``country`` is free text ("France", "Deutschland", "USA"); what cannot be recognised falls back.
    """
    if blank(country):
        return default_region
    text = country.strip()
    if text.upper() in phonenumbers.SUPPORTED_REGIONS:
        return text.upper()
    return _region_names().get(text.casefold(), default_region)


def split_multi(value: str | None) -> list[str]:
    """HubSpot multi-values (``"a;b"``) as a list without blanks."""
    if blank(value):
        return []
    return [part.strip() for part in value.split(";") if part.strip()]


def parse_id_list(value: str | None) -> list[int]:
    """``hs_merged_object_ids`` (``"123;456"``) as integers; a non-numeric part is an error, not skipped."""
    ids = []
    for part in split_multi(value):
        if not part.isdigit():
            raise InvalidValue(f"not a list of numeric ids ({part!r})")
        ids.append(int(part))
    return ids
