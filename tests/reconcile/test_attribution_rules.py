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
    A111,
    A112,
    A211,
    AD_GROUPS,
    ADS,
    C1,
    C2,
    C3,
    CAMPAIGNS,
    CONFIG,
    CONTACTS,
    DEALS,
    DELIVERY,
    G11,
    OLD_C2_NAME,
    dataset,
    paid,
    world,
)
from tests.reconcile.test_attribution_reconcile_dag import (
    JUNE,
    MAY,
    deal_row,
    figures,
    mutate,
    performance,
    snapshot,
)

C5, C6 = "626735560005", "626735560006"  # newer campaigns that take C1's name and C2's former name
D16, D17, D18, D19, D20, D21 = range(1016, 1022)


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
        "WHERE model = 'last_touch' AND channel_name = %s AND period = %s AND period_start = %s",
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
        "WHERE model = 'last_touch' AND grain = 'ad' AND grain_id = %s AND cohort_month = %s",
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


def inconsistent_world():
    """The world plus four paid deals whose levels name entities of different campaigns."""
    restated = world()
    restated.deals += [
        # C1 by its macro, utm_content an ad of C2: C1, no ad group, no ad
        paid(D16, "2025-06-05", won="2025-06-06", pinterest_campaign_id=C1, utm_content=A211),
        # C2 by its id, utm_content an ad group of C1: C2, no ad group
        paid(D17, "2025-06-05", utm_campaign=C2, utm_content=G11),
        # ad group G11 (C1) by its macro, the ad macro C2's pin: C1, G11, no ad
        paid(D18, "2025-06-05", pinterest_ad_group_id=G11, pinterest_ad_id=A211),
        # C1 by its macro, the ad macro C2's pin, utm_content the name of C1's pin A111: C1, G11 and A111 by name
        paid(D19, "2025-06-05", pinterest_campaign_id=C1, pinterest_ad_id=A211, utm_content="Pin Velvet"),
    ]
    return restated


def test_an_ad_group_or_ad_of_another_campaign_leaves_its_level_unresolved(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
) -> None:
    crm = serve_world(inconsistent_world())
    extract()
    reconcile()
    levels = "campaign_id, campaign_resolved_by, ad_group_id, ad_group_resolved_by, ad_id, ad_resolved_by"
    assert deal_row(warehouse, D16, levels) == (C1, "macro_id", None, "unresolved", None, "unresolved")
    assert deal_row(warehouse, D17, levels) == (C2, "utm_id", None, "unresolved", None, "unresolved")
    assert deal_row(warehouse, D18, levels) == (C1, "macro_id", G11, "macro_id", None, "unresolved")
    assert deal_row(warehouse, D19, levels) == (C1, "macro_id", G11, "utm_name", A111, "utm_name")
    # Counted as unresolved at their level, and nowhere in C2's pin A211 (which won nothing in June).
    paths = dict(
        warehouse.execute(
            "SELECT ad_resolved_by, count(*) FROM mart.deal_attribution WHERE deal_id BETWEEN %s AND %s GROUP BY 1",
            (D16, D19),
        ).fetchall()
    )
    assert paths == {"unresolved": 3, "utm_name": 1}
    assert performance(warehouse, "ad", A211, "month", JUNE) == figures(250, 0, 0, 0, None, 0)
    # No deal of any world counts for an ad group or an ad outside its campaign and ad group.
    inconsistent = warehouse.execute(
        "SELECT count(*) FROM mart.deal_attribution AS deal "
        "LEFT JOIN raw.pinterest_ad_groups AS ad_group ON ad_group.ad_group_id = deal.ad_group_id "
        "LEFT JOIN raw.pinterest_ads AS ad ON ad.ad_id = deal.ad_id "
        "WHERE (deal.ad_group_id IS NOT NULL AND ad_group.campaign_id IS DISTINCT FROM deal.campaign_id) "
        "OR (deal.ad_id IS NOT NULL AND ad.ad_group_id IS DISTINCT FROM deal.ad_group_id)"
    ).fetchone()
    assert inconsistent == (0,)

    # D16's utm_content corrected to C1's pin: an incremental run resolves it, as a rebuild does.
    mutate(crm, f"deals/{D16}/update", {"properties": {"utm_content": A111}})
    extract(pinterest=False)
    assert reconcile()["mode"] == "incremental"
    assert deal_row(warehouse, D16, levels) == (C1, "macro_id", G11, "utm_id", A111, "utm_id")
    incremental = snapshot(warehouse)
    reconcile(full_rebuild=True)
    assert snapshot(warehouse) == incremental


def names_taken_world() -> Any:
    """C2 renamed "Summer Patio"; C5 (created 20 June) takes C1's name "Spring Sofas" and C6 (21 June) C2's former
    name "Patio Launch"; a deal for each new campaign arrives after it."""
    campaigns = {**CAMPAIGNS, C5: ("Spring Sofas", "ACTIVE"), C6: (OLD_C2_NAME, "ACTIVE")}
    created = {
        C5: dt.datetime(2025, 6, 20, 12, tzinfo=dt.UTC),
        C6: dt.datetime(2025, 6, 21, 12, tzinfo=dt.UTC),
    }
    deals = json.loads(json.dumps(DEALS)) + [
        paid(D20, "2025-06-25", won="2025-06-27", utm_campaign="spring sofas", amount="900"),
        paid(D21, "2025-06-26", utm_campaign="Patio-Launch"),
    ]
    return dataset(campaigns, AD_GROUPS, ADS, DELIVERY, deals, config=CONFIG, created=created,
                   contacts=CONTACTS)  # fmt: skip


def campaign_rows(warehouse: psycopg.Connection, campaign_id: str) -> dict[str, list[tuple]]:
    """Every mart row of one campaign (but when it was written)."""
    return {
        table: warehouse.execute(
            f"SELECT to_jsonb(mart) - 'reconciled_at' FROM {table} AS mart WHERE campaign_id = %s "
            "ORDER BY to_jsonb(mart)::text",
            (campaign_id,),
        ).fetchall()
        for table in ("mart.performance", "mart.cohort_cac", "mart.truth_vs_platform")
    }


def test_a_name_a_newer_campaign_takes_never_moves_the_deals_created_before(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
) -> None:
    serve_world(world(c2_name=OLD_C2_NAME))
    extract()
    reconcile()
    spring_before = campaign_rows(warehouse, C1)
    patio_may_before = performance(warehouse, "campaign", C2, "month", MAY)
    resolved = "campaign_id, campaign_resolved_by"
    assert deal_row(warehouse, 1005, resolved) == (C2, "utm_name")  # "patio-launch"

    # C2 renamed, and two new campaigns take "Spring Sofas" (C1's name: "Black Friday" again) and "Patio Launch".
    serve_world(names_taken_world())
    extract()
    run = reconcile()
    assert (run["mode"], run["reason"]) == ("full", "Pinterest entities or names changed")
    for deal_id in (1003, 1004, 1008, 1011):  # "SPRING-sofas", "  spring   sofas ", "Spring Sofas", organic
        assert deal_row(warehouse, deal_id, resolved) == (C1, "utm_name"), deal_id
    assert deal_row(warehouse, 1005, resolved) == (C2, "utm_name")  # C2's former name, before C6 took it
    assert deal_row(warehouse, 1006, resolved) == (C2, "utm_name")  # "summer_patio", C2's new name
    assert deal_row(warehouse, D20, resolved) == (C5, "utm_name")  # created after C5 took the name
    assert deal_row(warehouse, D21, resolved) == (C6, "utm_name")
    assert campaign_rows(warehouse, C1) == spring_before  # every row of C1, its CAC included, unchanged
    assert performance(warehouse, "campaign", C2, "month", MAY) == patio_may_before
    assert performance(warehouse, "campaign", C5, "month", JUNE) == figures(0, 1, 1, 900, None, None)
