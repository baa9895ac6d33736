"""The bad-input table: one row per malformed value as real CRMs and APIs produce it, with what pin2deal must do.

``expect`` is the ``ops.record_issues`` reason for the case's field (the record is still loaded, the typed column
NULL and the raw value kept), or ``OK`` (loaded, no issue) with ``stored`` = (raw column, the value it must hold).
The suite loads every case in one world (tests/reliability/test_reliability_bad_input.py) and docs/reliability.md
shows this table as it is here (``render_markdown``; a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OK = "loaded, no issue"
TEN_MB = 10 * 1024 * 1024


@dataclass(frozen=True)
class Big:
    """A huge value, built only when used (``str(big)`` names it for the docs)."""

    unit: str
    size: int = TEN_MB
    suffix: str = ""

    @property
    def value(self) -> str:
        return self.unit * (self.size // len(self.unit)) + self.suffix

    def __str__(self) -> str:
        return f"{self.size // (1024 * 1024)} MB of {self.unit!r}{' + ' + repr(self.suffix) if self.suffix else ''}"


@dataclass(frozen=True)
class Case:
    kind: str  # empty, wrong type, separators, currency, absurd date, ...
    record: str  # deal, contact, pinterest row
    field: str  # the HubSpot property (internal name) or the Pinterest column
    value: Any  # as the API sends it (HubSpot: always a string)
    expect: str  # the ops.record_issues reason, or OK
    stored: tuple[str, Any] | None = None  # (raw column, value) checked when given
    with_fields: tuple[tuple[str, str], ...] = ()  # other fields of the same record

    @property
    def raw(self) -> Any:
        return self.value.value if isinstance(self.value, Big) else self.value

    @property
    def shown(self) -> str:
        return str(self.value) if isinstance(self.value, Big) else repr(self.value)


NAN = "not a number"
ISO = "not an ISO 4217 currency code"
BOOL = "not a boolean"
EMAIL = "not an email address"
PHONE = "not a phone number"
IMPLAUSIBLE = "implausible date (before 1980 or after 2099)"
DEAL, CONTACT, ROW, CSV = "deal", "contact", "pinterest row", "spend CSV line"

CASES: tuple[Case, ...] = (
    # amounts: separators, currency symbols, words, dates, huge and exotic numbers
    Case("empty", DEAL, "amount", "", OK, ("amount", None)),
    Case("empty", DEAL, "amount", "   ", OK, ("amount", None)),
    Case("thousands separator", DEAL, "amount", "1,250.00", NAN, ("amount_raw", "1,250.00")),
    Case("thousands separator", DEAL, "amount", "1.250,00", NAN),
    Case("thousands separator", DEAL, "amount", "1\u202f250", NAN),
    Case("thousands separator", DEAL, "amount", "1'250.00", NAN),
    Case("currency symbol", DEAL, "amount", "$1250", NAN),
    Case("currency symbol", DEAL, "amount", "1250 €", NAN),
    Case("currency symbol", DEAL, "amount", "1,250.00 USD", NAN),
    Case("wrong type", DEAL, "amount", "TBD", NAN),
    Case("wrong type", DEAL, "amount", "true", NAN),
    Case("wrong type", DEAL, "amount", "NaN", NAN),
    Case("wrong type", DEAL, "amount", "Infinity", NAN),
    Case("wrong type", DEAL, "amount", "0x1F", NAN),
    Case("wrong type", DEAL, "amount", "1_000", NAN),
    Case("date as number", DEAL, "amount", "2025-06-01", NAN),
    Case("unicode", DEAL, "amount", "١٢٣٤", OK, ("amount", 1234)),
    Case("valid edge", DEAL, "amount", "-120.50", OK, ("amount", -120.5)),
    Case("valid edge", DEAL, "amount", "1e3", OK, ("amount", 1000)),
    Case("10 MB string", DEAL, "amount", Big("9"), "number too long (10485760 characters)"),
    Case("wrong type", DEAL, "amount_in_home_currency", "1.2k", NAN),
    # currencies
    Case("wrong code", DEAL, "deal_currency_code", "XYZ", ISO, ("currency", None)),
    Case("currency symbol", DEAL, "deal_currency_code", "€", ISO),
    Case("wrong type", DEAL, "deal_currency_code", "US Dollar", ISO),
    Case("valid edge", DEAL, "deal_currency_code", " usd ", OK, ("currency", "USD")),
    Case("empty", DEAL, "deal_currency_code", "", OK, ("currency", None)),
    # dates: absurd, numbers as dates
    Case("absurd date", DEAL, "closedate", "1970-01-01T00:00:00Z", IMPLAUSIBLE, ("closed_at", None)),
    Case("absurd date", DEAL, "closedate", "0", IMPLAUSIBLE),
    Case("absurd date", DEAL, "closedate", "2999-12-31T00:00:00.000Z", IMPLAUSIBLE),
    Case("absurd date", DEAL, "createdate", "1900-01-01T00:00:00.000Z", IMPLAUSIBLE, ("created_at", None)),
    Case("absurd date", DEAL, "hs_v2_date_entered_closedwon", "4102444800000", IMPLAUSIBLE),
    Case("number as date", DEAL, "closedate", "1749549600000", OK, ("closed_at", "2025-06-10T10:00:00+00:00")),
    Case("number as date", DEAL, "createdate", "1749549600000", OK, ("created_at", "2025-06-10T10:00:00+00:00")),
    Case("empty", DEAL, "closedate", "", OK, ("closed_at", None)),
    # booleans and enumerations
    Case("wrong type", DEAL, "hs_is_closed_won", "maybe", BOOL, ("hs_is_closed_won", None)),
    Case("empty", DEAL, "hs_is_closed_won", "", OK, ("hs_is_closed_won", None)),
    Case("unknown value", DEAL, "dealstage", "ghost_stage", OK, ("dealstage", "ghost_stage")),
    Case("SQL metacharacters", DEAL, "pipeline", "'; DROP TABLE raw.hubspot_deals; --", OK,
         ("pipeline", "'; DROP TABLE raw.hubspot_deals; --")),  # fmt: skip
    # the click id
    Case("whitespace", DEAL, "pinterest_epik", " dj0yJnU9YWJj", "contains whitespace", ("epik", None)),
    Case("URL-encoded", DEAL, "pinterest_epik", "dj0yJnU9YWJj%3D%3D", "URL-encoded (contains %XX escapes)"),
    Case("HTML metacharacters", DEAL, "pinterest_epik", "<script>alert(1)</script>", "unexpected character '<'"),
    Case("emoji", DEAL, "pinterest_epik", "dj0y🙂", "unexpected character '🙂'"),
    Case("10 MB string", DEAL, "pinterest_epik", Big("x"), "too long (10485760 characters)"),
    Case("empty", DEAL, "pinterest_epik", "", OK, ("epik", None)),
    # free text: stored exactly as sent
    Case("unicode", DEAL, "utm_campaign", "Été 🌸 Soldes — 夏", OK, ("utm_campaign", "Été 🌸 Soldes — 夏")),
    Case("SQL metacharacters", DEAL, "utm_campaign", "x'); DELETE FROM mart.performance; --", OK,
         ("utm_campaign", "x'); DELETE FROM mart.performance; --")),  # fmt: skip
    Case("HTML metacharacters", DEAL, "utm_campaign", "<b>Spring</b>&amp;\"q\"", OK,
         ("utm_campaign", "<b>Spring</b>&amp;\"q\"")),  # fmt: skip
    Case("whitespace", DEAL, "utm_source", " PINTEREST\t", OK, ("utm_source", "PINTEREST")),
    Case("wrong type", DEAL, "pinterest_campaign_id", "6.2673556e11", OK, ("pinterest_campaign_id", "6.2673556e11")),
    Case("unicode", DEAL, "dealname", "𝕳𝖊𝖑𝖑𝖔 👨‍👩‍👧 \u202eevil ﷽", OK),
    Case("NUL character", DEAL, "dealname", "Sofa\x00order", "contains a NUL character (removed)"),
    Case("10 MB string", DEAL, "dealname", Big("A"), OK),
    Case("wrong type", DEAL, "hs_merged_object_ids", "12;abc", "not a list of numeric ids ('abc')"),
    Case("thousands separator", DEAL, "hs_merged_object_ids", "1,234", "not a list of numeric ids ('1,234')"),
    # contacts: raw personal data never copied into an issue
    Case("empty", CONTACT, "email", "", OK, ("email_normalized", None)),
    Case("wrong type", CONTACT, "email", "not an email", EMAIL, ("email_normalized", None)),
    Case("two values", CONTACT, "email", "ann@example.com; bob@example.com", EMAIL),
    Case("valid edge", CONTACT, "email", "  ANN.Lee@Example.COM ", OK, ("email_normalized", "ann.lee@example.com")),
    Case("unicode", CONTACT, "email", "zoë@exämple.fr", OK, ("email_normalized", "zoë@exämple.fr")),
    Case("10 MB string", CONTACT, "email", Big("a", suffix="@example.com"), EMAIL),
    Case("wrong type", CONTACT, "phone", "n/a", PHONE, ("phone_e164", None)),
    Case("wrong type", CONTACT, "phone", "ask for Mike", PHONE),
    Case("thousands separator", CONTACT, "phone", "1,234,567", PHONE),
    Case("wrong country", CONTACT, "phone", "415 555 0100", "not a valid phone number (default region FR)",
         with_fields=(("country", "France"),)),  # fmt: skip
    Case("valid edge", CONTACT, "phone", "030 23125 000", OK, ("phone_e164", "+493023125000"),
         with_fields=(("country", "Deutschland"),)),  # fmt: skip
    Case("emoji", CONTACT, "phone", "📞 +1 415 555 0123", OK, ("phone_e164", "+14155550123")),
    Case("10 MB string", CONTACT, "phone", Big("5"), PHONE),
    Case("empty", CONTACT, "mobilephone", "", OK, ("phone_e164", None), with_fields=(("phone", ""),)),
    # the contact roles the Conversions API matches on (docs/capi.md, "Matching"), typed as Pinterest normalises them
    Case("unicode", CONTACT, "city", "São Paulo ", OK, ("city_normalized", "sãopaulo")),
    Case("empty", CONTACT, "city", "--", "not a city name (no letters)", ("city_normalized", None)),
    Case("wrong type", CONTACT, "country", "Narnia", "not a country (an ISO 3166 code or a country name)",
         ("country_code", None)),  # fmt: skip
    Case("valid edge", CONTACT, "country", "Deutschland", OK, ("country_code", "de")),
    Case("separators", CONTACT, "zip", "94105-1234", OK, ("zip_normalized", "94105")),
    Case("wrong type", CONTACT, "zip", "941", "not a US ZIP code (5 digits, or ZIP+4)", ("zip_normalized", None)),
    Case("valid edge", CONTACT, "state", "California", OK, ("state_code", "ca")),
    Case("wrong type", CONTACT, "state", "Bavaria", "not a two-letter state code", ("state_code", None)),
    Case("unicode", CONTACT, "firstname", "Zoë 🙂", OK, ("first_name", "Zoë 🙂")),
    Case("SQL metacharacters", CONTACT, "lastname", "O'Brien; DROP TABLE raw.hubspot_contacts", OK,
         ("last_name", "O'Brien; DROP TABLE raw.hubspot_contacts")),  # fmt: skip
    Case("wrong type", CONTACT, "ads_consent", "maybe", BOOL, ("ads_consent", None)),
    Case("valid edge", CONTACT, "ads_consent", "GRANTED", OK, ("ads_consent", True)),
    Case("absurd date", CONTACT, "createdate", "-62135596800000", IMPLAUSIBLE, ("created_at", None)),
    Case("number as date", CONTACT, "createdate", "1749549600000", OK, ("created_at", "2025-06-10T10:00:00+00:00")),
    Case("date as number", CONTACT, "phone", "2025-06-01", "not a valid phone number (default region US)"),
    Case("HTML metacharacters", CONTACT, "firstname", "<img src=x onerror=alert(1)>", OK,
         ("first_name", "<img src=x onerror=alert(1)>")),  # fmt: skip
    # Pinterest analytics rows
    # Pinterest leaves zero metrics out of its rows: a missing metric is a 0 (docs/pinterest.md, Zero metrics)
    Case("missing metric", ROW, "SPEND_IN_MICRO_DOLLAR", None, OK),
    Case("missing metric", ROW, "PAID_IMPRESSION", None, OK),
    Case("negative", ROW, "PAID_IMPRESSION", -3, "negative count"),
    Case("wrong type", ROW, "SPEND_IN_MICRO_DOLLAR", 1.5, "not a whole number"),
    Case("negative", ROW, "SPEND_IN_MICRO_DOLLAR", -5_000_000, "negative spend"),
    # Only async report rows can name an ad the entity refresh did not list (the sync pull asks by listed ids):
    # this row goes through the report rows' converter (AdDayRows) with the hierarchy the run loaded.
    Case("unknown id", ROW, "AD_ID", "687199999999", "unknown ad id: not listed by the entity refresh"),
    # other channels' spend, one CSV line per case (a bad line is not loaded; the good ones are)
    Case("thousands separator", CSV, "spend", "1,250.00", NAN),
    Case("currency symbol", CSV, "spend", "$120", NAN),
    Case("negative", CSV, "spend", "-5", "negative"),
    Case("empty", CSV, "spend", "", "missing"),
    Case("absurd date", CSV, "day", "2025/06/01", "not an ISO date (YYYY-MM-DD)"),
    Case("number as date", CSV, "day", "45812", "not an ISO date (YYYY-MM-DD)"),
    Case("empty", CSV, "day", "", "missing"),
    Case("currency symbol", CSV, "currency", "€", ISO),
    Case("empty", CSV, "channel", "", "missing"),
    Case("SQL metacharacters", CSV, "campaign", "=HYPERLINK(\"x\"); DROP TABLE raw.channel_spend", OK),
    Case("unicode", CSV, "campaign", "Été 🌸 夏", OK),
)


def render_markdown() -> str:
    """The bad-input table as docs/reliability.md shows it."""
    lines = ["| # | kind | record | field | value sent | result |", "| --- | --- | --- | --- | --- | --- |"]
    for number, case in enumerate(CASES, start=1):
        shown = case.shown.replace("|", "\\|")
        result = case.expect if case.expect == OK else f"flagged: {case.expect}"
        if case.stored and case.expect == OK:
            result += f"; `{case.stored[0]}` = {case.stored[1]!r}"
        extra = "".join(f" ({name} {value!r})" for name, value in case.with_fields)
        lines.append(f"| {number} | {case.kind} | {case.record} | `{case.field}`{extra} | `{shown}` | {result} |")
    return "\n".join(lines)
