"""Parsing and validating other channels' spend CSV lines (pure; the loading is tested with the reconcile DAG)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pin2deal.reconcile.channel_spend import parse_channel_spend


def test_valid_lines_become_rows_in_any_column_order_and_bad_fields_are_reported_by_line() -> None:
    text = (
        "\ufeffDay,Spend,Currency,Channel,Campaign\n"
        "2025-06-03,350.00,usd,Google,brand\n"
        "\n"
        "2025-06-31,-4,US,,brand\n"
        '2025-06-04,"1,200.00",EUR,meta,"retargeting, 30d"\n'
    )
    parsed = parse_channel_spend(text, "june.csv")
    assert parsed.rows == [("google", "brand", dt.date(2025, 6, 3), Decimal("350.00"), "USD", "june.csv", 2)]
    assert sorted(parsed.issues) == [
        ("june.csv:4", "channel", "missing", ""),
        ("june.csv:4", "currency", "not an ISO 4217 currency code", "US"),
        ("june.csv:4", "day", "not an ISO date (YYYY-MM-DD)", "2025-06-31"),
        ("june.csv:4", "spend", "negative", "-4"),
        ("june.csv:5", "spend", "not a number", "1,200.00"),
    ]
    assert (parsed.lines, parsed.rejected) == (3, 2)


def test_a_file_without_the_columns_is_one_issue() -> None:
    parsed = parse_channel_spend("channel,campaign,date,amount\ngoogle,x,2025-06-01,3\n", "bad.csv")
    assert parsed.rows == []
    header = "channel,campaign,date,amount"
    assert parsed.issues == [("bad.csv:1", "day,spend,currency", "header misses these columns", header)]


def test_a_pinterest_line_is_refused_by_name_whatever_its_case() -> None:
    parsed = parse_channel_spend("channel,campaign,day,spend,currency\n PINTEREST ,pins,2025-06-03,9,USD\n", "p.csv")
    assert parsed.rows == []
    reason = "Pinterest's spend comes from the Pinterest Ads API, never from a CSV file"
    assert parsed.issues == [("p.csv:2", "channel", reason, " PINTEREST ")]
