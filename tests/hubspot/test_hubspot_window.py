"""Which window a ``hubspot_deals`` run reads (the high-water-mark rules, no I/O)."""

from __future__ import annotations

import datetime as dt

import pytest

from pin2deal.hubspot.window import EPOCH, read_window

T = dt.datetime(2025, 6, 10, 12, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
RULES = {"overlap": dt.timedelta(minutes=10), "index_lag": dt.timedelta(seconds=30), "since": None}


def window(run_type="scheduled", start=T - HOUR, end=T, mark=None, run_after=T, **changes):
    return read_window(
        run_type=run_type, interval_start=start, interval_end=end, run_after=run_after, mark=mark,
        **{**RULES, **changes},
    )  # fmt: skip


def test_a_scheduled_run_reads_from_the_mark_minus_the_overlap_whatever_its_interval() -> None:
    three_hours_ago = T - 3 * HOUR
    chosen = window(mark=three_hours_ago)
    assert (chosen.start, chosen.end, chosen.advances_mark) == (three_hours_ago - RULES["overlap"], T, True)


def test_the_first_run_reads_its_interval_and_a_run_without_interval_everything() -> None:
    assert (window().start, window().end) == (T - HOUR, T)
    bare = window("manual", start=None, end=None)
    assert (bare.start, bare.end, bare.advances_mark) == (EPOCH, T - RULES["index_lag"], True)


def test_a_manual_run_without_interval_reads_from_the_mark_to_its_trigger_time() -> None:
    chosen = window("manual", start=None, end=None, mark=T - HOUR, run_after=T + HOUR)
    assert (chosen.start, chosen.end) == (T - HOUR - RULES["overlap"], T + HOUR - RULES["index_lag"])


def test_a_backfill_reads_exactly_its_interval_and_never_moves_the_mark() -> None:
    chosen = window("backfill", mark=T + 5 * HOUR)
    assert (chosen.start, chosen.end, chosen.advances_mark) == (T - HOUR, T, False)
    with pytest.raises(ValueError, match="data interval"):
        window("backfill", start=None, end=None)


def test_since_moves_the_mark_only_when_it_starts_before_it() -> None:
    day = dt.date(2025, 6, 1)
    assert window(since=day, mark=T - HOUR).advances_mark is True
    late = window(since=dt.date(2025, 6, 10), mark=dt.datetime(2025, 6, 9, tzinfo=dt.UTC))
    assert late.start == dt.datetime(2025, 6, 10, tzinfo=dt.UTC) and late.advances_mark is False


def test_a_run_whose_end_is_behind_the_mark_has_nothing_to_read() -> None:
    assert window(mark=T + HOUR).empty
