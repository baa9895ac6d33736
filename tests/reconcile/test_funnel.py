"""The stage funnel (``mart.funnel``) on a small hand-computed world, through the real DAGs: deals entering each
stage, advancing, lost from it, the median days to advance; one lineage counted once through a CRM migration and a
merge; an incremental run equals a rebuild (docs/attribution.md works through the same figures)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import psycopg

from tests.reconcile.conftest import MIDNIGHT
from tests.reconcile.reconcile_worlds import (
    A111,
    A211,
    AD_GROUPS,
    ADS,
    C1,
    C2,
    CAMPAIGNS,
    CONFIG,
    DELIVERY,
    G11,
    G21,
    at,
    dataset,
    macros,
    paid,
)

MAY, JUNE = dt.date(2025, 5, 1), dt.date(2025, 6, 1)
STAGES = [  # (id, label, probability, closed)
    ("new", "New", "0.1", False), ("demo", "Demo", "0.4", False), ("proposal", "Proposal", "0.7", False),
    ("closedwon", "Closed won", "1.0", True), ("closedlost", "Closed lost", "0.0", True),
]  # fmt: skip
STAMP = {"createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z", "archived": False}
PIPELINES = {
    "results": [{
        "id": "default", "label": "Sales", "displayOrder": 0, **STAMP,
        "stages": [
            {"id": stage, "label": label, "displayOrder": order, **STAMP,
             "metadata": {"isClosed": str(closed).lower(), "probability": probability}}
            for order, (stage, label, probability, closed) in enumerate(STAGES)
        ],
    }]
}  # fmt: skip
F1, F2, F3, F4, F5, F6, F7, F8 = range(2001, 2009)


def funnel_deal(deal_id: int, entries: dict[str, str], *, campaign: tuple[str, str, str] = (C1, G11, A111)) -> dict:
    """A paid deal created on its first entry, entering each stage of ``entries`` (stage -> day) and sitting in the
    last one (won or lost when that is a closed stage)."""
    stage, day = list(entries.items())[-1]
    created = next(iter(entries.values()))
    won = day if stage == "closedwon" else None
    record = paid(deal_id, created, won=won, **macros(*campaign))
    record["properties"]["dealstage"] = stage
    record["properties"].update({f"hs_v2_date_entered_{name}": at(when) for name, when in entries.items()})
    if stage == "closedlost":
        record["properties"]["closedate"] = at(day)
    return record


DEALS = [
    funnel_deal(F1, {"new": "2025-05-05", "demo": "2025-05-07", "proposal": "2025-05-12", "closedwon": "2025-05-20"}),
    funnel_deal(F2, {"new": "2025-05-06", "demo": "2025-05-10", "closedlost": "2025-05-15"}),
    funnel_deal(F3, {"new": "2025-05-07", "closedlost": "2025-05-09"}),
    funnel_deal(F4, {"new": "2025-05-08", "demo": "2025-05-09", "proposal": "2025-05-14"}),
    funnel_deal(F5, {"new": "2025-05-12"}),
    # skips the demo: it advanced from new straight to a proposal
    funnel_deal(F6, {"new": "2025-05-13", "proposal": "2025-05-20", "closedwon": "2025-06-02"}),
    funnel_deal(F7, {"new": "2025-05-14", "demo": "2025-05-16"}),
    funnel_deal(F8, {"new": "2025-05-15", "demo": "2025-05-20"}, campaign=(C2, G21, A211)),
]


def funnel_world(deals: list[dict] = DEALS, pipelines: dict = PIPELINES) -> Any:
    names = {cid: name for cid, (name, _) in CAMPAIGNS.items()}
    ads = {ad: ADS[ad] for ad in (A111, A211)}
    groups = {group: AD_GROUPS[group] for group in (G11, G21)}
    return dataset(
        {cid: CAMPAIGNS[cid] for cid in (C1, C2)}, groups, ads, [row for row in DELIVERY if row[0] in ads],
        [dict(deal) for deal in deals], config=CONFIG, names=names, pipelines=pipelines,
    )  # fmt: skip


def funnel(warehouse: psycopg.Connection, grain_id: str, period: str, start: dt.date) -> dict[str, tuple]:
    """stage -> (entered, advanced, conversion rate, median days to advance, lost)."""
    return {
        stage: rest
        for stage, *rest in warehouse.execute(
            "SELECT stage, entered, advanced, conversion_rate, median_days_to_advance, lost FROM mart.funnel "
            "WHERE grain_id = %s AND period = %s AND period_start = %s ORDER BY stage_order",
            (grain_id, period, start),
        ).fetchall()
    }


def rows(*values: Any) -> list:
    return [None if value is None else Decimal(str(value)) if isinstance(value, float) else value for value in values]


def mart_funnel(warehouse: psycopg.Connection) -> list[tuple]:
    return warehouse.execute(
        "SELECT grain, grain_id, ad_account_id, campaign_id, ad_group_id, ad_id, name, period, period_start, "
        "period_end, pipeline, pipeline_label, stage, stage_label, stage_order, stage_kind, entered, advanced, "
        "conversion_rate, median_days_to_advance, lost FROM mart.funnel "
        "ORDER BY grain, grain_id, period, period_start, pipeline, stage"
    ).fetchall()


def post(server: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/_sandbox/hubspot/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def test_the_funnel_counts_each_lineage_once_per_stage_and_an_incremental_run_equals_a_rebuild(
    serve_world, extract, reconcile, run_dag, warehouse
) -> None:
    crm = serve_world(funnel_world())
    # The warehouse as hourly runs build it (deals read from a date, later runs from the mark), and the spend.
    run_dag("hubspot_deals", MIDNIGHT, conf={"full_refresh": False, "since": "2025-05-01"})
    extract(hubspot=False)
    first = reconcile()
    assert first["mode"] == "full"
    # Campaign C1, entries in May. new: F1-F7 entered; F1 (2 days), F2 (4), F4 (1), F6 (7, to the proposal) and F7
    # (2) went on: 5 of 7, median 2 days; F3 was lost from it. demo: F1, F2, F4, F7; F1 and F4 went on (5 days
    # each); F2 was lost from it. proposal: F1, F4, F6; F1 won after 8 days (in May), F6 after 13 (2 June).
    may = {
        "new": rows(7, 5, 0.7143, 2.0, 1),
        "demo": rows(4, 2, 0.5, 5.0, 1),
        "proposal": rows(3, 2, 0.6667, 10.5, 0),
        "closedwon": rows(1, None, None, None, 0),
        "closedlost": rows(2, None, None, None, 0),
    }
    assert funnel(warehouse, C1, "month", MAY) == may
    assert funnel(warehouse, C1, "month", JUNE) == {"closedwon": rows(1, None, None, None, 0)}
    assert funnel(warehouse, C2, "month", MAY) == {"new": rows(1, 1, 1.0, 5.0, 0), "demo": rows(1, 0, 0.0, None, 0)}
    # The week of Monday 5 May: F1-F4 entered new (F3 lost from it), F1, F2 and F4 the demo (F2 lost from it).
    week = funnel(warehouse, C1, "week", dt.date(2025, 5, 5))
    assert (week["new"], week["demo"]) == (rows(4, 3, 0.75, 2.0, 1), rows(3, 2, 0.6667, 5.0, 1))
    labels = warehouse.execute(
        "SELECT DISTINCT name, pipeline_label, stage_label, stage_order, stage_kind FROM mart.funnel "
        "WHERE grain_id = %s AND stage = 'closedlost'",
        (C1,),
    ).fetchall()
    assert labels == [("Spring Sofas", "Sales", "Closed lost", 4, "lost")]

    # A CRM migration re-creates F1 (won) and F7 (open): HubSpot gives the new deals the import's instant as their
    # entry into their current stage, and nothing else. F5 is merged into F4. The next hourly extraction, then an
    # incremental reconcile: still one lineage each, entering the stages when they did.
    post(crm, "deals/re-id", {"ids": [str(F1), str(F7)], "firstId": 900_000})
    post(crm, "deals/merge", {"primaryObjectId": str(F4), "objectIdToMerge": str(F5)})
    now = crm.app.state.sandbox.now()
    run_dag("hubspot_deals", now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1),
            conf={"full_refresh": False, "since": None})  # fmt: skip
    second = reconcile()
    assert second["mode"] == "incremental"
    assert funnel(warehouse, C1, "month", MAY) == {**may, "new": rows(6, 5, 0.8333, 2.0, 1)}  # F5 is F4 now
    assert funnel(warehouse, C1, "month", JUNE) == {"closedwon": rows(1, None, None, None, 0)}
    assert warehouse.execute("SELECT count(*) FROM mart.funnel WHERE period_start >= '2025-06-23'").fetchone() == (0,)
    incremental = mart_funnel(warehouse)
    reconcile(full_rebuild=True)
    assert mart_funnel(warehouse) == incremental


def test_a_lost_deal_is_lost_from_each_open_stage_it_entered_last_when_two_tie(
    serve_world, extract, reconcile, run_dag, warehouse
) -> None:
    # A pipeline whose Demo and Trial share a display order. F1 entered both at the same instant and was lost: no
    # stage comes after the other, so it is lost from each (as from one stage entered last); F2 entered the Trial
    # later, and is lost from the Trial only.
    tied = {"results": [{**PIPELINES["results"][0], "stages": [
        {**stage, "displayOrder": {"new": 0, "demo": 1, "trial": 1}.get(stage["id"], 3)}
        for stage in PIPELINES["results"][0]["stages"] + [{**PIPELINES["results"][0]["stages"][1], "id": "trial"}]
        if stage["id"] != "proposal"
    ]}]}  # fmt: skip
    deals = [
        funnel_deal(F1, {"new": "2025-05-05", "demo": "2025-05-07", "trial": "2025-05-07", "closedlost": "2025-05-15"}),
        funnel_deal(F2, {"new": "2025-05-06", "demo": "2025-05-08", "trial": "2025-05-09", "closedlost": "2025-05-16"}),
    ]
    serve_world(funnel_world(deals, tied))
    run_dag("hubspot_deals", MIDNIGHT, conf={"full_refresh": False, "since": "2025-05-01"})
    extract(hubspot=False)
    reconcile()
    assert funnel(warehouse, C1, "month", MAY) == {
        "new": rows(2, 2, 1.0, 2.0, 0),
        "demo": rows(2, 0, 0.0, None, 1),
        "trial": rows(2, 0, 0.0, None, 2),
        "closedlost": rows(2, None, None, None, 0),
    }
