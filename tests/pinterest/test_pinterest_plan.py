"""Which days a run pulls, in how many requests, and how API rows become warehouse rows (pure functions)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from pin2deal.hooks.pinterest import MAX_IDS_PER_REQUEST, SYNC_MAX_RANGE_DAYS
from pin2deal.pinterest.spend import (
    AdDayRows,
    DeletionRule,
    chunks,
    date_windows,
    interval_days,
    last_complete_day,
    plan_days,
)

TODAY = dt.date(2026, 6, 30)


def day(offset: int) -> dt.date:
    return TODAY - dt.timedelta(days=offset)


def utc(year: int, month: int, day_: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day_, hour, tzinfo=dt.UTC)


def test_a_daily_interval_covers_the_account_days_it_overlaps() -> None:
    start, end = utc(2026, 6, 28), utc(2026, 6, 29)
    assert interval_days(start, end, ZoneInfo("UTC")) == (dt.date(2026, 6, 28), dt.date(2026, 6, 28))
    assert interval_days(start, end, ZoneInfo("America/New_York")) == (dt.date(2026, 6, 27), dt.date(2026, 6, 28))
    assert interval_days(start, end, ZoneInfo("Asia/Tokyo")) == (dt.date(2026, 6, 28), dt.date(2026, 6, 29))
    assert interval_days(start, start, ZoneInfo("UTC")) == (dt.date(2026, 6, 28), dt.date(2026, 6, 28))


def test_plan_adds_lookback_and_provisional_days_and_never_asks_for_the_future() -> None:
    plan = plan_days(day(1), day(0), lookback_days=3, provisional=[day(9), day(-1)], today=TODAY)
    assert plan.sync == (day(9), day(4), day(3), day(2), day(1), day(0))
    assert plan.report == plan.unreachable == ()
    assert plan_days(day(-2), day(-1), lookback_days=0, provisional=[], today=TODAY).sync == ()


def test_plan_sends_days_beyond_the_sync_window_to_reports_and_rejects_what_pinterest_no_longer_keeps() -> None:
    plan = plan_days(day(92), day(89), lookback_days=0, provisional=[], today=TODAY)
    assert plan.sync == (day(90), day(89))  # "up to 90 days before the current date"
    assert plan.report == (day(92), day(91))
    old = plan_days(day(915), day(914), lookback_days=1, provisional=[], today=TODAY)
    assert old.report == (day(914),) and old.unreachable == (day(916), day(915))  # reports reach 914 days


def test_windows_are_the_fewest_the_range_limit_allows() -> None:
    ninety = [day(n) for n in range(90)]
    assert date_windows(ninety, SYNC_MAX_RANGE_DAYS) == [(day(89), day(0))]
    assert date_windows([*ninety, day(90)], SYNC_MAX_RANGE_DAYS) == [(day(90), day(1)), (day(0), day(0))]
    assert date_windows([day(30), day(2)], SYNC_MAX_RANGE_DAYS) == [(day(30), day(2))]  # a gap costs no request
    assert date_windows([], SYNC_MAX_RANGE_DAYS) == []
    ads = [str(n) for n in range(20_000)]
    assert len(list(chunks(ads, MAX_IDS_PER_REQUEST))) == 80  # the analytics minimum for 20,000 ads x 90 days


def test_bad_analytics_rows_are_flagged_with_the_record_field_and_reason() -> None:
    rows = AdDayRows("1", "USD", {"10": ("20", "30")}, provisional_from=day(1))
    batch = rows.convert(
        [
            {"AD_ID": "10", "DATE": str(day(1)), "SPEND_IN_MICRO_DOLLAR": 5.0, "PAID_IMPRESSION": 3,
             "TOTAL_CLICKTHROUGH": "2"},
            {"AD_ID": "10", "DATE": str(day(2)), "SPEND_IN_MICRO_DOLLAR": 1, "PAID_IMPRESSION": -3,
             "TOTAL_CLICKTHROUGH": 1.5, "TOTAL_CHECKOUT": True},
            {"AD_ID": "11", "DATE": str(day(3)), "SPEND_IN_MICRO_DOLLAR": 7, "PAID_IMPRESSION": 1,
             "TOTAL_CLICKTHROUGH": 0, "AD_GROUP_ID": "21", "CAMPAIGN_ID": "31"},
            {"AD_ID": "10", "SPEND_IN_MICRO_DOLLAR": 7},
        ]
    )  # fmt: skip
    # TOTAL_CHECKOUT and the other conversion columns are absent: Pinterest leaves zero metrics out, they are 0.
    assert [row[:11] for row in batch.rows] == [
        ("10", day(1), "1", "20", "30", 5, 3, 2, 0, 0, 0),
        ("10", day(2), "1", "20", "30", 1, None, None, None, 0, 0),
        ("11", day(3), "1", "21", "31", 7, 1, 0, 0, 0, 0),
    ]
    assert [row[11] for row in batch.rows] == ["0.000005", "0.000001", "0.000007"]  # spend, exact
    assert [row[-2] for row in batch.rows] == [True, False, False]  # provisional from day(1) on
    assert json.loads(batch.rows[0][-1])["TOTAL_CLICKTHROUGH"] == "2"  # the row as received is kept
    assert batch.unknown_ads == 1
    assert batch.issues == [
        (f"10/{day(2)}", "PAID_IMPRESSION", "negative count", "-3"),
        (f"10/{day(2)}", "TOTAL_CLICKTHROUGH", "not a whole number", "1.5"),
        (f"10/{day(2)}", "TOTAL_CHECKOUT", "not a whole number", "True"),
        (f"11/{day(3)}", "AD_ID", "unknown ad id: not listed by the entity refresh", "11"),
        ("10/None", "DATE", "missing or invalid", '{"AD_ID": "10", "SPEND_IN_MICRO_DOLLAR": 7}'),
    ]


def test_metrics_left_out_or_null_are_zero_without_an_issue() -> None:
    batch = AdDayRows("1", "USD", {"10": ("20", "30")}).convert(
        [{"AD_ID": "10", "DATE": str(day(4)), "PAID_IMPRESSION": 40, "TOTAL_CLICKTHROUGH": None}]
    )
    assert [row[5:11] for row in batch.rows] == [(0, 40, 0, 0, 0, 0)]
    assert batch.rows[0][11] == "0.000000" and batch.issues == []


def test_the_deletion_rule_trusts_small_deletions_and_refuses_empty_or_shrunken_answers() -> None:
    rule = DeletionRule(max_share=0.05, max_rows=10)
    assert rule.refusal(stored=1000, reported=1000, unreported=0, unreported_delivered=0) is None
    assert rule.refusal(stored=1000, reported=990, unreported=10, unreported_delivered=10) is None
    assert rule.refusal(stored=1000, reported=950, unreported=50, unreported_delivered=50) is None  # 5 %
    assert "leaves out 51 of the 1000" in rule.refusal(stored=1000, reported=949, unreported=51,
                                                        unreported_delivered=51)  # fmt: skip
    # An empty answer may not erase ad-days that had delivery, however few ...
    assert "no rows while 2 stored" in rule.refusal(stored=2, reported=0, unreported=2, unreported_delivered=2)
    # ... but may clear ad-days that had none (restated to nothing already).
    assert rule.refusal(stored=2, reported=0, unreported=2, unreported_delivered=0) is None
    assert DeletionRule(max_share=1.0, max_rows=0).refusal(
        stored=100, reported=1, unreported=99, unreported_delivered=99
    ) is None


def test_a_run_without_a_data_interval_pulls_the_accounts_last_complete_day() -> None:
    # 03:30 UTC on July 1st is still June 30th in New York: its last complete day is June 29th; Tokyo's is June 30th.
    now = utc(2026, 7, 1, 3) + dt.timedelta(minutes=30)
    assert last_complete_day(now, ZoneInfo("America/New_York")) == dt.date(2026, 6, 29)
    assert last_complete_day(now, ZoneInfo("Asia/Tokyo")) == dt.date(2026, 6, 30)
    assert last_complete_day(now, ZoneInfo("UTC")) == dt.date(2026, 6, 30)
