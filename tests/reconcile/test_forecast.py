"""The forecast CAC (``forecast_cac`` in ``mart.performance`` and ``mart.cohort_cac``) on the stage funnel's
hand-computed world, through the real DAGs: open deals weighted by their stage's probability, a lost deal adding
nothing, a stage without a probability giving no forecast; one lineage counted once through a CRM migration and a
merge; an incremental run equals a rebuild (docs/attribution.md works through the same figures)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from pin2deal.briefing.pipeline import facts_from_frames, read_frames
from pin2deal.briefing.rules import BriefingFacts, BriefingSettings, forecast_lines
from tests.reconcile.conftest import MIDNIGHT
from tests.reconcile.reconcile_worlds import C1, C2, TIMEZONE, at
from tests.reconcile.test_funnel import (
    DEALS,
    F4,
    F5,
    F7,
    F8,
    MAY,
    PIPELINES,
    funnel_deal,
    funnel_world,
    post,
)

# Stage probabilities (test_funnel's pipeline): new 0.1, demo 0.4, proposal 0.7. Campaign C1's May leads: F1 and F6
# won, F2 and F3 lost, F4 open in the proposal, F5 in new, F7 in the demo; C2's: F8 in the demo. Every deal is
# $1,000. C1 spent $500 in May (5-9 May), C2 $250 (12-16 May).
SETTINGS = BriefingSettings()
COHORT_COLUMNS = (
    "spend, leads, won_to_date, cac, open_deals, expected_wins, expected_revenue, open_without_probability, "
    "forecast_cac"
)


def cohort(warehouse: psycopg.Connection, grain_id: str, month: dt.date = MAY) -> tuple:
    return warehouse.execute(
        f"SELECT {COHORT_COLUMNS} FROM mart.cohort_cac WHERE model = 'last_touch' AND grain_id = %s "
        "AND cohort_month = %s",
        (grain_id, month),
    ).fetchone()


def week(warehouse: psycopg.Connection, grain_id: str, start: dt.date) -> tuple:
    """(spend, leads, leads_won_to_date, leads_open, expected wins, expected revenue, without probability, forecast)"""
    return warehouse.execute(
        "SELECT spend, leads, leads_won_to_date, leads_open, leads_expected_wins, leads_expected_revenue, "
        "leads_open_without_probability, forecast_cac FROM mart.performance "
        "WHERE model = 'last_touch' AND grain_id = %s AND period = 'week' AND period_start = %s",
        (grain_id, start),
    ).fetchone()


def figures(*values: Any) -> tuple:
    return tuple(Decimal(str(value)) if isinstance(value, float) else value for value in values)


def forecast_marts(warehouse: psycopg.Connection) -> list[list[tuple]]:
    return [
        warehouse.execute(
            "SELECT grain, grain_id, period, period_start, leads, leads_won_to_date, leads_open, leads_expected_wins, "
            "leads_expected_revenue, leads_open_without_probability, forecast_cac FROM mart.performance "
            "ORDER BY grain, grain_id, period, period_start, model"
        ).fetchall(),
        warehouse.execute(
            f"SELECT grain, grain_id, cohort_month, {COHORT_COLUMNS}, expected_revenue_currency FROM mart.cohort_cac "
            "ORDER BY grain, grain_id, cohort_month, model"
        ).fetchall(),
        warehouse.execute(
            "SELECT stable_key, deal_id, dealstage, is_won, stage_closed, stage_probability FROM mart.deal_attribution "
            "ORDER BY stable_key"
        ).fetchall(),
    ]


def briefing_facts(warehouse: psycopg.Connection, day: dt.date) -> BriefingFacts:
    return facts_from_frames(read_frames(warehouse, day, ZoneInfo(TIMEZONE)), day, ZoneInfo(TIMEZONE))


def test_open_deals_weighted_by_their_stage_give_the_forecast_once_per_lineage_and_incremental_equals_rebuild(
    serve_world, extract, reconcile, run_dag, warehouse
) -> None:
    crm = serve_world(funnel_world())
    run_dag("hubspot_deals", MIDNIGHT, conf={"full_refresh": False, "since": "2025-05-01"})
    extract(hubspot=False)
    assert reconcile()["mode"] == "full"
    # C1, May: 7 leads, 2 won (cohort CAC 500 / 2 = 250), 3 open: 0.7 + 0.1 + 0.4 = 1.2 expected wins, $1,200
    # expected; the lost F2 and F3 add nothing. Forecast CAC = 500 / (2 + 1.2) = 156.25.
    assert cohort(warehouse, C1) == figures(500.0, 7, 2, 250.0, 3, 1.2, 1200.0, 0, 156.25)
    # C2: nothing won, F8 expected 0.4: 250 / 0.4 = 625. The account: 750 / (2 + 1.6) = 208.3333.
    assert cohort(warehouse, C2) == figures(250.0, 1, 0, None, 1, 0.4, 400.0, 0, 625.0)
    assert cohort(warehouse, "549755885175") == figures(750.0, 8, 2, 375.0, 4, 1.6, 1600.0, 0, 208.3333)
    # Weeks: 5 May (F1-F4: F1 won, F4 open) spent $500: 500 / 1.7 = 294.1176; 12 May (F5, F6 won, F7) spent nothing:
    # no forecast, as no CAC.
    assert week(warehouse, C1, dt.date(2025, 5, 5)) == figures(500.0, 4, 1, 1, 0.7, 700.0, 0, 294.1176)
    assert week(warehouse, C1, dt.date(2025, 5, 12)) == figures(0.0, 3, 1, 2, 0.5, 500.0, 0, None)
    assert warehouse.execute(
        "SELECT stage_closed, stage_probability FROM mart.deal_attribution WHERE deal_id = %s", (F4,)
    ).fetchone() == (False, Decimal("0.7"))
    # The briefing of 20 May: the typical time to close is F1's 15 days (the only paid deal won in the 90 days), so
    # C2, spending since 12 May, is still in its cycle (C1, since 5 May, is not). Its days so far: $250, F8 open in
    # the demo: 250 / 0.4 = $625, under the account's 28-day CAC (750 / 1, F1) plus 10 %: on track.
    day = dt.date(2025, 5, 20)
    assert forecast_lines(briefing_facts(warehouse, day), SETTINGS) == [
        "Campaign 'Summer Patio', spending since 12 May (younger than the median time to close, 15 days): on track, "
        "forecast CAC $625 (0 won to date, 0.40 expected wins from 1 open deal, spend $250) against the account's "
        "28-day CAC $750. A forecast, not an actual CAC."
    ]

    # A CRM migration re-creates F7 (open) and the won F6's lineage stays won; F5 is merged into F4 (one open deal
    # now, F4's proposal); F8 moves on to a proposal. An incremental run: C1 has 2 open deals, 0.7 + 0.4 = 1.1
    # expected, 500 / 3.1 = 161.2903 (F7 counted once, F5 no more); C2 250 / 0.7 = 357.1429.
    post(crm, "deals/re-id", {"ids": [str(F7)], "firstId": 900_000})
    post(crm, "deals/merge", {"primaryObjectId": str(F4), "objectIdToMerge": str(F5)})
    post(crm, f"deals/{F8}/update",
         {"properties": {"dealstage": "proposal", "hs_v2_date_entered_proposal": at("2025-06-20")}})  # fmt: skip
    now = crm.app.state.sandbox.now()
    run_dag("hubspot_deals", now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1),
            conf={"full_refresh": False, "since": None})  # fmt: skip
    assert reconcile()["mode"] == "incremental"
    assert cohort(warehouse, C1) == figures(500.0, 6, 2, 250.0, 2, 1.1, 1100.0, 0, 161.2903)
    assert cohort(warehouse, C2) == figures(250.0, 1, 0, None, 1, 0.7, 700.0, 0, 357.1429)
    assert warehouse.execute(
        "SELECT count(*) FROM mart.deal_attribution WHERE channel = 'pinterest_paid' AND NOT is_won "
        "AND NOT stage_closed"
    ).fetchone() == (3,)  # F4 (with F5), F7 (re-created), F8
    assert week(warehouse, C1, dt.date(2025, 5, 12)) == figures(0.0, 2, 1, 1, 0.4, 400.0, 0, None)
    incremental = forecast_marts(warehouse)
    assert reconcile(full_rebuild=True)["mode"] == "full"
    assert forecast_marts(warehouse) == incremental
    # C2 is on track at $357 now; rows published before migration 082 (the reconcile after the upgrade rebuilds
    # them) have no forecast columns: no line for the campaign, and no error.
    [line] = forecast_lines(briefing_facts(warehouse, day), SETTINGS)
    assert "on track, forecast CAC $357 (0 won to date, 0.70 expected wins from 1 open deal, spend $250)" in line
    warehouse.execute("UPDATE mart.performance_generations SET leads_open = NULL WHERE grain_id = %s", (C2,))
    assert forecast_lines(briefing_facts(warehouse, day), SETTINGS) == []


def test_a_stage_without_a_probability_gives_no_forecast(serve_world, extract, reconcile, run_dag, warehouse) -> None:
    # The demo stage has no probability in HubSpot's metadata: C1's F7 and C2's F8 sit there. Their cohorts have no
    # forecast (never a guess), and say why: 1 open deal without a probability each; the others still add theirs.
    stages = [
        {**stage, "metadata": {"isClosed": "false"}} if stage["id"] == "demo" else stage
        for stage in PIPELINES["results"][0]["stages"]
    ]
    serve_world(funnel_world(DEALS, {"results": [{**PIPELINES["results"][0], "stages": stages}]}))
    run_dag("hubspot_deals", MIDNIGHT, conf={"full_refresh": False, "since": "2025-05-01"})
    extract(hubspot=False)
    reconcile()
    assert cohort(warehouse, C1) == figures(500.0, 7, 2, 250.0, 3, 0.8, 800.0, 1, None)
    assert cohort(warehouse, C2) == figures(250.0, 1, 0, None, 1, 0.0, 0.0, 1, None)
    # The week of 5 May has no deal in the demo now: its forecast stands (500 / (1 + 0.7)).
    assert week(warehouse, C1, dt.date(2025, 5, 5))[-1] == Decimal("294.1176")


def test_a_deal_in_a_stage_pinterest_does_not_know_is_open_without_a_probability(
    serve_world, extract, reconcile, run_dag, warehouse
) -> None:
    # F4 sits in a stage the pipelines do not list (deleted from the pipeline, say): not won (HubSpot's flag), not
    # known to be lost: open, with no probability, so no forecast.
    deals = [funnel_deal(F4, {"new": "2025-05-08", "gone": "2025-05-09"})]
    serve_world(funnel_world(deals))
    run_dag("hubspot_deals", MIDNIGHT, conf={"full_refresh": False, "since": "2025-05-01"})
    extract(hubspot=False)
    reconcile()
    assert cohort(warehouse, C1) == figures(500.0, 1, 0, None, 1, 0.0, 0.0, 1, None)
