"""The rules behind the morning numbers, each through the DAGs on real PostgreSQL (``hubspot_deals``,
``pinterest_spend``, ``attribution_reconcile`` and, where the briefing states the number, ``daily_briefing``), on the
hand-computed world of ``reconcile_worlds``: CAC without spend, other channels' unknown days and refused Pinterest
lines, one time-to-close rule, consistent resolution levels, and names taken over by newer campaigns."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pin2deal.ui.app import read_page
from tests.reconcile.reconcile_worlds import (
    A112,
    C1,
    C3,
    world,
)
from tests.reconcile.test_attribution_reconcile_dag import (
    JUNE,
    MAY,
    figures,
    performance,
    snapshot,
)


@pytest.fixture
def brief(run_dag: Callable[..., Any], warehouse: psycopg.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``brief(day)``: run ``daily_briefing`` for a New York account day (its run at 07:00 UTC the day after);
    returns the stored facts (JSON) and Markdown."""
    monkeypatch.setenv("PIN2DEAL_BRIEFING_DIR", str(tmp_path / "briefings"))

    def run(day: dt.date) -> tuple[dict[str, Any], str]:
        morning = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(7), dt.UTC)
        run_dag("daily_briefing", morning, conf={"slack_conn_id": "", "llm_conn_id": ""})
        facts, markdown = warehouse.execute(
            "SELECT facts, markdown FROM ops.briefings WHERE briefing_date = %s", (day,)
        ).fetchone()
        return (facts if isinstance(facts, dict) else json.loads(facts)), markdown

    return run


def channel(warehouse: psycopg.Connection, name: str, period: str, start: dt.date) -> tuple | None:
    row = warehouse.execute(
        "SELECT spend, leads, won, revenue, cac FROM mart.channel_performance "
        "WHERE channel_name = %s AND period = %s AND period_start = %s",
        (name, period, start),
    ).fetchone()
    return tuple(None if value is None else Decimal(value) for value in row) if row else None


def week_of(facts: dict[str, Any], channel_name: str) -> dict[str, Any]:
    return next(c["week"] for c in facts["channels"] if c["channel"] == channel_name)


def test_cac_is_null_when_a_period_won_deals_without_spend_in_the_marts_the_cohorts_and_the_page(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
) -> None:
    serve_world(world())
    extract()
    reconcile()
    # D1 (C1, pin A111) was won on 20 May, when C1 delivered nothing: no CAC, never $0 (nor a ROAS of spend 0).
    may_19, may_20 = dt.date(2025, 5, 19), dt.date(2025, 5, 20)
    assert performance(warehouse, "campaign", C1, "day", may_20) == figures(0, 0, 1, 1000, None, None)
    assert performance(warehouse, "campaign", C1, "week", may_19) == figures(0, 0, 1, 1000, None, None)
    # Pin A112 delivered in June only; of its May leads (D2, D3), D3 is won by now: the cohort has no CAC either.
    cohort = warehouse.execute(
        "SELECT spend, leads, won_to_date, cac FROM mart.cohort_cac "
        "WHERE grain = 'ad' AND grain_id = %s AND cohort_month = %s",
        (A112, MAY),
    ).fetchone()
    assert cohort == (Decimal(0), 2, 1, None)
    for table in ("mart.performance", "mart.cohort_cac", "mart.channel_performance"):
        assert warehouse.execute(f"SELECT count(*) FROM {table} WHERE cac = 0").fetchone() == (0,), table
    # The UI page sums the same daily rows and applies the same rule: C1 no CAC, C3 (spent, won D7) $150.
    warehouse.execute("BEGIN READ ONLY")
    try:
        page = read_page(warehouse, "campaign", may_19, may_19 + dt.timedelta(days=6))
    finally:
        warehouse.execute("ROLLBACK")
    rows = {row["grain_id"]: row for row in page["cac"].rows}
    assert (rows[C1]["spend"], rows[C1]["won"], rows[C1]["cac"]) == (Decimal(0), 1, None)
    assert (rows[C3]["spend"], rows[C3]["won"], rows[C3]["cac"]) == (Decimal(150), 1, Decimal(150))


CHANNELS_CSV = "\n".join(
    [
        "channel,campaign,day,spend,currency",
        "google,brand_search_us,2025-06-03,350.00,USD",
        *(f"google,brand_search_us,2025-06-{day:02d},50.00,USD" for day in range(9, 16)),
        "Pinterest,promoted_pins,2025-06-10,999.00,USD",
    ]
)
CHANNELS_LATE_CSV = "\n".join(  # the days the first file missed, in the week of 2 June
    ["channel,campaign,day,spend,currency"]
    + [f"google,brand_search_us,2025-06-{day:02d},50.00,USD" for day in (2, 4, 5, 6, 7, 8)]
)


def test_a_day_without_a_csv_line_is_unknown_spend_and_a_pinterest_csv_line_is_refused(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    brief: Callable[..., Any],
    channel_spend_dir: Path,
    warehouse: psycopg.Connection,
) -> None:
    serve_world(world())
    (channel_spend_dir / "channels.csv").write_text(CHANNELS_CSV)
    extract()
    reconcile()
    # google (D12: lead 3 June, won 10 June, $700): a line on 3 June only in its week, every day of the next one.
    assert channel(warehouse, "google", "day", dt.date(2025, 6, 3)) == figures(350, 1, 0, 0, None)
    assert channel(warehouse, "google", "week", dt.date(2025, 6, 2)) == figures(None, 1, 0, 0, None)
    assert channel(warehouse, "google", "week", dt.date(2025, 6, 9)) == figures(350, 0, 1, 700, 350)
    assert channel(warehouse, "google", "month", JUNE) == figures(None, 1, 1, 700, None)
    # The CSV's Pinterest line is refused by name, and Pinterest's spend is its ad account's alone.
    assert channel(warehouse, "pinterest", "month", JUNE)[0] == Decimal(850)
    assert warehouse.execute("SELECT count(*) FROM raw.channel_spend WHERE channel = 'pinterest'").fetchone() == (0,)
    refused = warehouse.execute(
        "SELECT record_key, field, raw_value FROM ops.record_issues WHERE source = 'channel_spend.csv'"
    ).fetchall()
    assert refused == [("channels.csv:10", "channel", "Pinterest")]

    # The briefing's week: 4-10 June has google lines on 9 and 10 June only: unknown, not compared; 9-15 June known.
    facts, markdown = brief(dt.date(2025, 6, 10))
    assert week_of(facts, "google")["spend"] is None and week_of(facts, "google")["won"] == 1
    assert "Not compared, spend unknown: google (0 leads, 1 won)." in markdown
    facts, _ = brief(dt.date(2025, 6, 15))
    assert (week_of(facts, "google")["spend"], week_of(facts, "google")["won"]) == ("350.00", 1)

    # A later file brings the missing days of the week of 2 June: an incremental run knows it, as a rebuild does.
    (channel_spend_dir / "late.csv").write_text(CHANNELS_LATE_CSV)
    late = reconcile()
    assert late["mode"] == "incremental"
    assert channel(warehouse, "google", "week", dt.date(2025, 6, 2)) == figures(650, 1, 0, 0, None)
    assert channel(warehouse, "google", "month", JUNE) == figures(None, 1, 1, 700, None)  # 1 and 16-30 June unknown
    incremental = snapshot(warehouse)
    reconcile(full_rebuild=True)
    assert snapshot(warehouse) == incremental


def test_the_campaign_line_and_the_mart_count_the_same_deals_for_time_to_close(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    brief: Callable[..., Any],
    warehouse: psycopg.Connection,
) -> None:
    serve_world(world())
    extract()
    reconcile()
    # Won by C1 in 30 May - 5 June: D3 (26 days) and D4 (2 days), paid; D11 (2 days) is organic and costs no spend.
    facts, markdown = brief(dt.date(2025, 6, 5))
    spring = next(c for c in facts["campaigns"] if c["entity_id"] == C1)
    assert spring["median_days_to_close"] == 14.0
    assert "median time to close 14 days" in markdown
    # The mart counts the same deals: C1's week of 2 June, D3, D4 and D9 (1 day), all paid.
    week = warehouse.execute(
        "SELECT won, median, p75 FROM mart.time_to_close "
        "WHERE grain = 'campaign' AND grain_id = %s AND period = 'week' AND period_start = '2025-06-02'",
        (C1,),
    ).fetchone()
    assert week == (3, dt.timedelta(days=2), dt.timedelta(days=14))
