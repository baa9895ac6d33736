"""Account days at their edges, for an ad account in America/Los_Angeles, through every DAG on real PostgreSQL: a
lead at 23:30 local (already the next day in UTC), a deal won at 00:10 local on the day daylight saving time ends,
and the ISO week of 28 Dec 2026, which spans two years and two months; for deals, Pinterest spend and other
channels' spend, in the marts and in the briefing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.reconcile.reconcile_worlds import CONFIG, dataset, deal, macros, paid
from tests.reconcile.test_attribution_reconcile_dag import deal_row, figures, performance

LOS_ANGELES = "America/Los_Angeles"
E1, EG1, EA1 = "626735570001", "268006070001", "687195700001"
EDGE_CAMPAIGN = {E1: ("Edge Campaign", "ACTIVE")}
EDGE_AD_GROUP = {EG1: (E1, "Edge Group")}
EDGE_AD = {EA1: (EG1, "Edge Pin")}
ACCOUNT = CONFIG["ad_account_id"]


def edge_world(today: dt.date, first_day: dt.date, days: int, deals: list[dict[str, Any]]):
    """One campaign spending $10 a day from ``first_day`` on, in an ad account of Los Angeles (``today`` 3 days after
    the last day of spend: the sandbox reports every day of it as final)."""
    config = {**CONFIG, "timezone": LOS_ANGELES, "today": today.isoformat()}
    return dataset(EDGE_CAMPAIGN, EDGE_AD_GROUP, EDGE_AD, [(EA1, first_day, days, 10)], deals, config=config)


def edge_paid(deal_id: int, created: str, **props: Any) -> dict[str, Any]:
    return paid(deal_id, created, modified=props.pop("modified", created), **macros(E1, EG1, EA1), **props)


@pytest.fixture
def pipeline(
    serve_world: Callable[..., Any],
    run_dag: Callable[..., Any],
    reconcile: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    warehouse: psycopg.Connection,
) -> Callable[..., Any]:
    """``pipeline(dataset)``: extract at the world's midnight (UTC) and reconcile; returns ``brief(day)``, which runs
    ``daily_briefing`` for an account day (at 09:00 UTC the day after: 01:00 in Los Angeles) and returns its stored
    facts and Markdown."""
    monkeypatch.setenv("PIN2DEAL_BRIEFING_DIR", str(tmp_path / "briefings"))

    def run(world: Any) -> Callable[[dt.date], tuple[dict[str, Any], str]]:
        serve_world(world)
        midnight = dt.datetime.combine(world.today, dt.time(), dt.UTC)
        run_dag("hubspot_deals", midnight - dt.timedelta(hours=1), conf={"full_refresh": True, "since": None})
        run_dag("pinterest_spend", midnight, conf={"lookback_days": 60})
        reconcile()

        def brief(day: dt.date) -> tuple[dict[str, Any], str]:
            run_dag(
                "daily_briefing",
                dt.datetime.combine(day + dt.timedelta(days=1), dt.time(9), dt.UTC),
                conf={"slack_conn_id": "", "llm_conn_id": ""},
            )
            facts, markdown = warehouse.execute(
                "SELECT facts, markdown FROM ops.briefings WHERE briefing_date = %s", (day,)
            ).fetchone()
            return (facts if isinstance(facts, dict) else json.loads(facts)), markdown

        return brief

    return run


def window(facts_window: dict[str, Any]) -> tuple:
    return (
        None if facts_window["spend"] is None else Decimal(facts_window["spend"]),
        facts_window["leads"],
        facts_window["won"],
    )


def test_a_late_lead_and_a_win_at_ten_past_midnight_on_the_day_daylight_saving_time_ends(
    pipeline: Callable[..., Any], warehouse: psycopg.Connection
) -> None:
    # Sun 1 Nov 2026: 02:00 PDT becomes 01:00 PST (a 25-hour day). $10 a day from Mon 26 Oct to Mon 2 Nov.
    won_at_dst = "2026-11-01T00:10:00-07:00"  # 07:10 UTC, still PDT
    late_lead = "2026-10-31T23:30:00-07:00"  # 06:30 UTC on 1 Nov
    brief = pipeline(edge_world(dt.date(2026, 11, 5), dt.date(2026, 10, 26), 8, [
        edge_paid(3001, "2026-10-20", won=won_at_dst, modified=won_at_dst),
        edge_paid(3002, late_lead),
    ]))  # fmt: skip
    assert deal_row(warehouse, 3001, "won_day") == (dt.date(2026, 11, 1),)
    assert deal_row(warehouse, 3002, "lead_day") == (dt.date(2026, 10, 31),)
    october, november = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    for grain, grain_id in (("account", ACCOUNT), ("campaign", E1)):
        assert performance(warehouse, grain, grain_id, "day", november) == figures(10, 0, 1, 1000, 10, 100)
        assert performance(warehouse, grain, grain_id, "week", dt.date(2026, 10, 26)) == figures(
            70, 1, 1, 1000, 70, 14.2857
        )
        assert performance(warehouse, grain, grain_id, "month", october) == figures(60, 2, 0, 0, None, 0)
        assert performance(warehouse, grain, grain_id, "month", november) == figures(20, 0, 1, 1000, 20, 50)

    facts, markdown = brief(november)
    assert window(facts["accounts"][0]["day"]) == (Decimal(10), 0, 1)
    assert window(facts["accounts"][0]["week"]) == (Decimal(70), 1, 1)
    assert "Sun 1 Nov 2026: spend $10.00, 0 leads, 1 won." in markdown
    # The newest deal change (the win, 07:10 UTC on 1 Nov) is 48 h 50 min before the end of 2 Nov (08:00 UTC on
    # 3 Nov): the 48-hour stale-deals rule applies, counted across the extra hour of 1 Nov.
    _, markdown = brief(dt.date(2026, 11, 2))
    assert "The newest HubSpot deal change is from Sun 1 Nov 2026 00:10 PDT, 48 hours before the end of 2 Nov" in (
        markdown
    )


def test_the_iso_week_of_28_december_2026_spans_two_years_for_deals_and_spend(
    pipeline: Callable[..., Any], channel_spend_dir: Path, warehouse: psycopg.Connection
) -> None:
    # $10 a day from Mon 21 Dec 2026 to Tue 5 Jan 2027; google's CSV covers Mon 28 Dec - Sun 3 Jan at $20 a day.
    (channel_spend_dir / "google.csv").write_text(
        "channel,campaign,day,spend,currency\n"
        + "".join(f"google,search,{dt.date(2026, 12, 28) + dt.timedelta(days=n)},20.00,USD\n" for n in range(7))
    )
    new_year_win = "2027-01-01T00:10:00-08:00"
    brief = pipeline(edge_world(dt.date(2027, 1, 8), dt.date(2026, 12, 21), 16, [
        edge_paid(4001, "2026-12-31T23:30:00-08:00"),  # 07:30 UTC on 1 Jan 2027: still December here
        edge_paid(4002, "2027-01-03T23:30:00-08:00"),  # 07:30 UTC on Mon 4 Jan: still the week of 28 Dec
        edge_paid(4003, "2026-12-10", won=new_year_win, modified=new_year_win),
        deal(4004, "2026-12-30", won="2027-01-02", modified="2027-01-02", utm_source="google"),
    ]))  # fmt: skip
    assert deal_row(warehouse, 4001, "lead_day") == (dt.date(2026, 12, 31),)
    assert deal_row(warehouse, 4002, "lead_day") == (dt.date(2027, 1, 3),)
    assert deal_row(warehouse, 4003, "won_day") == (dt.date(2027, 1, 1),)
    week = dt.date(2026, 12, 28)
    for grain, grain_id in (("account", ACCOUNT), ("campaign", E1)):
        assert performance(warehouse, grain, grain_id, "week", week) == figures(70, 2, 1, 1000, 70, 14.2857)
        assert performance(warehouse, grain, grain_id, "month", dt.date(2026, 12, 1)) == figures(
            110, 2, 0, 0, None, 0
        )
        assert performance(warehouse, grain, grain_id, "month", dt.date(2027, 1, 1)) == figures(50, 1, 1, 1000, 50, 20)
    channels = {
        (name, period, start): (spend, leads, won, cac)
        for name, period, start, spend, leads, won, cac in warehouse.execute(
            "SELECT channel_name, period, period_start, spend, leads, won, cac FROM mart.channel_performance "
            "WHERE model = 'last_touch' AND period IN ('week', 'month')"
        ).fetchall()
    }
    assert channels[("google", "week", week)] == (Decimal("140.00"), 1, 1, Decimal(140))
    assert channels[("google", "month", dt.date(2026, 12, 1))] == (None, 1, 0, None)  # 1-27 Dec unknown
    assert channels[("google", "month", dt.date(2027, 1, 1))] == (None, 0, 1, None)  # 4-31 Jan unknown
    assert channels[("pinterest", "week", week)] == (Decimal(70), 2, 1, Decimal(70))

    facts, markdown = brief(dt.date(2027, 1, 3))
    assert "Week: 28 Dec 2026 - 3 Jan 2027" in markdown
    assert window(facts["accounts"][0]["week"]) == (Decimal(70), 2, 1)
    google = next(c["week"] for c in facts["channels"] if c["channel"] == "google")
    assert window(google) == (Decimal(140), 1, 1)
