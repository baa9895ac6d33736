"""The shared normalisation functions: strict typing of CRM strings, with the reason when a value is refused."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pin2deal.normalize import (
    InvalidValue,
    normalize_email,
    normalize_phone,
    parse_bool,
    parse_currency,
    parse_decimal,
    parse_id_list,
    parse_timestamp,
    phone_region,
    split_multi,
    to_epoch_ms,
    validate_epik,
)

UTC = dt.UTC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1500", Decimal("1500")), ("1500.50", Decimal("1500.50")), (" 42.0 ", Decimal("42.0")), ("-3", Decimal("-3")),
     (".5", Decimal("0.5")), ("1e3", Decimal("1e3")), (None, None), ("", None), ("  ", None)],
)
def test_parse_decimal_accepts_plain_numbers(raw, expected) -> None:
    assert parse_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["1,500", "$1500", "1_000", "NaN", "Infinity", "12abc", "1.2.3", "one"])
def test_parse_decimal_refuses_what_is_not_a_number_instead_of_zeroing_it(raw) -> None:
    with pytest.raises(InvalidValue, match="not a number"):
        parse_decimal(raw)


def test_parse_currency_checks_iso_4217() -> None:
    assert parse_currency("eur") == "EUR"
    assert parse_currency(" USD ") == "USD"
    assert parse_currency(None) is None
    for bad in ("EURO", "XYZ", "US$", "DEM"):
        with pytest.raises(InvalidValue, match="ISO 4217"):
            parse_currency(bad)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-06-01T10:15:30.123Z", dt.datetime(2025, 6, 1, 10, 15, 30, 123000, tzinfo=UTC)),
        ("2025-06-01T12:15:30+02:00", dt.datetime(2025, 6, 1, 10, 15, 30, tzinfo=UTC)),
        ("2025-06-01T10:15:30", dt.datetime(2025, 6, 1, 10, 15, 30, tzinfo=UTC)),
        ("2025-06-01", dt.datetime(2025, 6, 1, tzinfo=UTC)),
        ("1748772930123", dt.datetime(2025, 6, 1, 10, 15, 30, 123000, tzinfo=UTC)),
        ("0", dt.datetime(1970, 1, 1, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_parse_timestamp_reads_iso_and_epoch_ms_as_utc(raw, expected) -> None:
    parsed = parse_timestamp(raw)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize("raw", ["yesterday", "2025-13-01", "1748772930123.5", "12/06/2025"])
def test_parse_timestamp_refuses_garbage(raw) -> None:
    with pytest.raises(InvalidValue, match="timestamp"):
        parse_timestamp(raw)


def test_epoch_ms_round_trips_exactly() -> None:
    moment = dt.datetime(2025, 6, 1, 10, 15, 30, 123000, tzinfo=UTC)
    assert to_epoch_ms(moment) == 1748772930123
    assert parse_timestamp(str(to_epoch_ms(moment))) == moment
    with pytest.raises(ValueError, match="naive"):
        to_epoch_ms(dt.datetime(2025, 6, 1))


def test_parse_bool() -> None:
    assert parse_bool("true") is True
    assert parse_bool("FALSE") is False
    assert parse_bool("granted") is True
    assert parse_bool("denied") is False
    assert parse_bool("") is None
    with pytest.raises(InvalidValue, match="not a boolean"):
        parse_bool("maybe")


def test_validate_epik_keeps_valid_ids_untouched() -> None:
    assert validate_epik("dj0yJnU9aFNDcHB6dE5xdUI3LUVsS0NrX1RsWQ") == "dj0yJnU9aFNDcHB6dE5xdUI3LUVsS0NrX1RsWQ"
    assert validate_epik("abc-DEF_123.x=") == "abc-DEF_123.x="
    assert validate_epik(None) is None
    assert validate_epik("   ") is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("dj0y JnU9", "whitespace"), (" dj0yJnU9", "whitespace"), ("dj0yJnU9\t", "whitespace"),
     ("dj0yJnU9%3D%3D", "URL-encoded"), ("dj0y%2BJnU9", "URL-encoded"), ("dj0y&u=1", "unexpected character '&'")],
)
def test_validate_epik_flags_spaces_and_url_encoding(raw, reason) -> None:
    with pytest.raises(InvalidValue, match=reason):
        validate_epik(raw)


def test_normalize_email_trims_and_lowercases() -> None:
    assert normalize_email("  Jane.Doe@Example.COM ") == "jane.doe@example.com"
    assert normalize_email("") is None
    for bad in ("jane", "jane@", "ja ne@example.com", "a@b@c.com"):
        with pytest.raises(InvalidValue, match="email"):
            normalize_email(bad)


def test_normalize_phone_to_e164_with_configurable_region() -> None:
    assert normalize_phone("(415) 555-2671") == "+14155552671"
    assert normalize_phone("+44 20 7946 0958") == "+442079460958"
    assert normalize_phone("030 901820", default_region="DE") == "+4930901820"
    assert normalize_phone(None) is None
    with pytest.raises(InvalidValue, match="phone"):
        normalize_phone("12")
    with pytest.raises(InvalidValue, match="phone"):
        normalize_phone("call me")


def test_multi_values_and_id_lists() -> None:
    assert split_multi("a; b;;c") == ["a", "b", "c"]
    assert parse_id_list("123;456") == [123, 456]
    assert parse_id_list(None) == []
    with pytest.raises(InvalidValue, match="numeric ids"):
        parse_id_list("123;abc")


def test_phone_region_from_the_contacts_free_text_country() -> None:
    assert phone_region("France") == "FR"
    assert phone_region("Deutschland") == "DE"
    assert phone_region("germany") == "DE"
    assert phone_region("USA") == "US"
    assert phone_region(" gb ") == "GB"
    assert phone_region("Atlantis", default_region="FR") == "FR"
    assert phone_region(None, default_region="DE") == "DE"
    assert normalize_phone("01 99 00 12 34", phone_region("France")) == "+33199001234"
