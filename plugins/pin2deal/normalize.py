"""Small pure functions that turn CRM strings into typed values, strictly.

Each returns ``None`` for an empty value and raises ``InvalidValue`` (a ``ValueError`` whose message is the
reason, e.g. "not a number") for a value it cannot type. Callers keep the raw value, record the reason in
``ops.record_issues`` and load the rest of the record: a bad value is never guessed into a good one (an
unparsable amount is not 0, a URL-encoded click id is not decoded). The CAPI payload builder reuses the email,
phone and matching functions (city, state, ZIP code, country, gender, date of birth), so hashing sees exactly what
the warehouse stores.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import re
import unicodedata
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


def country_code(country: str | None) -> str | None:
    """The ISO 3166 code (upper case) of a country written as a code or a name ("France", "Deutschland", "USA"), or
    None when it cannot be recognised. HubSpot's ``country`` is free text."""
    if blank(country):
        return None
    text = country.strip()
    if text.upper() in phonenumbers.SUPPORTED_REGIONS:
        return text.upper()
    return _region_names().get(text.casefold())


def phone_region(country: str | None, default_region: str = "US") -> str:
    """The region to read a national phone number in: the contact's country (ISO code or name), else the default."""
    return country_code(country) or default_region


# -- Conversions API matching fields (user_data's ct, st, zp, country, ge, db), as Pinterest's docs define them ----

_NOT_ASCII_ALNUM = re.compile(r"[^a-z0-9]+")
_US_ZIP = re.compile(r"(\d{5})(?:[-\s]?\d{4})?")
_BIRTH_DATE = re.compile(r"(\d{4})[-/.]?(\d{2})[-/.]?(\d{2})(?:T00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?")
_GENDERS = {"f": "f", "female": "f", "woman": "f", "m": "m", "male": "m", "man": "m", "n": "n", "nonbinary": "n"}
US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca", "colorado": "co",
    "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc", "florida": "fl", "georgia": "ga",
    "hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks", "kentucky": "ky",
    "louisiana": "la", "maine": "me", "maryland": "md", "massachusetts": "ma", "michigan": "mi", "minnesota": "mn",
    "mississippi": "ms", "missouri": "mo", "montana": "mt", "nebraska": "ne", "nevada": "nv", "newhampshire": "nh",
    "newjersey": "nj", "newmexico": "nm", "newyork": "ny", "northcarolina": "nc", "northdakota": "nd", "ohio": "oh",
    "oklahoma": "ok", "oregon": "or", "pennsylvania": "pa", "rhodeisland": "ri", "southcarolina": "sc",
    "southdakota": "sd", "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va",
    "washington": "wa", "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy", "puertorico": "pr", "guam": "gu",
    "americansamoa": "as", "virginislands": "vi", "northernmarianaislands": "mp",
}  # fmt: skip


def _letters_and_digits(value: str) -> str:
    """Lower-cased (Unicode NFC), every space, punctuation mark and symbol removed: "São Paulo " -> "sãopaulo"."""
    if value.isascii():  # most values: one regular expression instead of a Unicode lookup per character
        return _NOT_ASCII_ALNUM.sub("", value.lower())
    text = unicodedata.normalize("NFC", value).lower()
    return "".join(char for char in text if unicodedata.category(char)[0] in "LNM")


def normalize_city(value: str | None) -> str | None:
    """A city as Pinterest matches it: lower case, without spaces or punctuation ("St. Louis" -> "stlouis")."""
    if blank(value):
        return None
    city = _letters_and_digits(value)
    if not city:
        raise InvalidValue("not a city name (no letters)")
    return city


def normalize_country(value: str | None) -> str | None:
    """The two-letter ISO 3166 code in lower case ("United States", "USA", "us" -> "us")."""
    if blank(value):
        return None
    code = country_code(value)
    if code is None:
        raise InvalidValue("not a country (an ISO 3166 code or a country name)")
    return code.lower()


def normalize_state(value: str | None, country: str | None = None) -> str | None:
    """A two-letter state code in lower case ("CA", "ca", "C.A." -> "ca"); a US state's name too when the contact
    is in the US (``country``: an ISO code, as ``normalize_country`` returns)."""
    if blank(value):
        return None
    state = _letters_and_digits(value)
    if len(state) == 2 and state.isascii() and state.isalpha():
        return state
    if (country or "").lower() == "us" and state in US_STATES:
        return US_STATES[state]
    raise InvalidValue("not a two-letter state code")


def normalize_zip(value: str | None, country: str | None = None) -> str | None:
    """A US ZIP code as its five digits ("94105-1234" -> "94105"); elsewhere the postcode in lower case without
    spaces or punctuation ("SW1A 1AA" -> "sw1a1aa"). ``country``: an ISO code (the contact's, else the default)."""
    if blank(value):
        return None
    if (country or "").lower() == "us":
        match = _US_ZIP.fullmatch(value.strip())
        if match is None:
            raise InvalidValue("not a US ZIP code (5 digits, or ZIP+4)")
        return match.group(1)
    postcode = _letters_and_digits(value)
    if not postcode.isascii() or not postcode.isalnum():
        raise InvalidValue("not a postcode (letters and digits)")
    return postcode


def normalize_gender(value: str | None) -> str | None:
    """Pinterest's genders: "f", "m" or "n" (non-binary); the words female/male/non-binary are read too."""
    if blank(value):
        return None
    gender = _GENDERS.get(_letters_and_digits(value))
    if gender is None:
        raise InvalidValue("not a gender Pinterest knows (f, m or n: female, male, non-binary)")
    return gender


def normalize_birth_date(value: str | None, today: dt.date | None = None) -> str | None:
    """A date of birth as YYYYMMDD ("1997-12-26", "19971226", "1997/12/26", HubSpot's date as epoch milliseconds
    at midnight UTC). Day-first and month-first dates ("26/12/1997", "12/26/1997") are ambiguous: refused."""
    if blank(value):
        return None
    text = value.strip()
    match = _BIRTH_DATE.fullmatch(text)
    if match is not None:
        try:
            born = dt.date(*(int(part) for part in match.groups()))
        except ValueError as error:
            raise InvalidValue("not a date (YYYY-MM-DD)") from error
    elif _EPOCH_MS.fullmatch(text):
        moment = _EPOCH + dt.timedelta(milliseconds=int(text))
        if moment.time() != dt.time():
            raise InvalidValue("not a date (epoch milliseconds that are not a midnight UTC)")
        born = moment.date()
    else:
        raise InvalidValue("not a date (YYYY-MM-DD)")
    if not 1900 <= born.year or born > (today or dt.datetime.now(dt.UTC).date()):
        raise InvalidValue("not a plausible date of birth (before 1900 or in the future)")
    return born.strftime("%Y%m%d")


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
