"""A CRM migration as HubSpot does it, through the real DAGs and the sandbox over HTTP: the sandbox's ``deals/re-id``
re-creates every deal under a new id and, like HubSpot's import, gives it the import's instant as its entry into its
current stage and as its ``createdate``. Then the next scheduled ``hubspot_deals`` run (no full refresh: scheduled
runs do not wait for people), ``attribution_reconcile`` and ``pinterest_capi``; optionally the runbook's full
refresh and a full rebuild of the marts. One sale stays one lineage: the same deals, no lead or won day moved, the
same time to close, and nothing new reaches Pinterest. A fresh install that only ever sees the migrated deals takes
their won time from ``closedate`` and flags them."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from tests.hubspot.deal_worlds import contact
from tests.reconcile import conftest as reconcile_fixtures
from tests.reconcile.conftest import MIDNIGHT
from tests.reconcile.reconcile_worlds import A111, C1, G11, TIMEZONE, at, deal, macros, paid, world

# The reconcile tests' fixtures: its world served, the extraction and reconcile DAGs, a clean warehouse.
serve_world = reconcile_fixtures.serve_world
channel_spend_dir = reconcile_fixtures.channel_spend_dir
extract = reconcile_fixtures.extract
reconcile = reconcile_fixtures.reconcile
clean_warehouse = reconcile_fixtures.clean_warehouse

CAPI_CONF = {"dry_run": False, "test_mode": False}
INCREMENTAL = {"full_refresh": False, "since": None}
# The sandbox's clock is 2025-06-30 (the reconcile world's today): Pinterest takes events won since 2025-06-23.
SENT, NO_CLOSEDATE, OLD, LEAD_IN_MAY, OPEN, GOOGLE = range(3001, 3007)
MACROS = macros(C1, G11, A111)


def _deals() -> list[dict[str, Any]]:
    return [
        paid(SENT, "2025-06-01", won="2025-06-28", contacts=(7001,), amount="1499.90", **MACROS),
        # won on the 27th, never given a closedate (an older import): only its stage entry says when
        paid(NO_CLOSEDATE, "2025-06-02", won="2025-06-27", contacts=(7001,), closedate=None, **MACROS),
        # won on 10 June (too old to send), its closedate later moved to the contract's date by a rep
        paid(OLD, "2025-05-20", won="2025-06-10", contacts=(7002,), closedate=at("2025-06-29"), **MACROS),
        paid(LEAD_IN_MAY, "2025-05-06", won="2025-06-26", contacts=(7002,), amount="300", **MACROS),
        paid(OPEN, "2025-06-03", contacts=(7001,), **MACROS),
        deal(GOOGLE, "2025-06-04", won="2025-06-28", utm_source="google", contacts=(7001,)),
    ]


@pytest.fixture(autouse=True)
def clean_capi(warehouse: psycopg.Connection) -> None:
    warehouse.execute("TRUNCATE ops.capi_outbox, ops.capi_ledger")


@pytest.fixture
def served(serve_world) -> Any:
    dataset = world()
    dataset.deals, dataset.contacts = _deals(), [contact(7001), contact(7002)]
    return serve_world(dataset)


def _post(server: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/_sandbox/hubspot/{path}", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()


def _events(server: Any) -> Counter[str]:
    """Every event the sandbox's Pinterest accepted, by event id (real requests)."""
    received = httpx.get(f"{server.url}/_sandbox/events", timeout=30).json()["events"]
    return Counter(event["event_id"] for event in received)


def _capi(run_dag) -> None:
    run_dag("pinterest_capi", MIDNIGHT, conf=CAPI_CONF)


def _next_hour(server: Any) -> dt.datetime:
    """The scheduled hourly run whose interval holds the sandbox's now (the migration's instant)."""
    now = server.app.state.sandbox.now()
    return now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def _attribution(warehouse: psycopg.Connection) -> dict[str, tuple]:
    return {
        row[0]: row[1:]
        for row in warehouse.execute(
            "SELECT stable_key, deal_id, is_won, lead_at, lead_day, won_at, won_day, time_to_close "
            "FROM mart.deal_attribution"
        )
    }


def _moments(rows: dict[str, tuple]) -> dict[str, tuple]:
    """Everything but the deal id: is_won, lead_at, lead_day, won_at, won_day, time_to_close."""
    return {key: row[1:] for key, row in rows.items()}


@pytest.mark.parametrize("then", ["hourly_run_only", "runbook_full_refresh_and_rebuild"])
def test_a_migration_moves_no_day_and_sends_nothing_before_or_after_the_full_refresh(
    served, extract, reconcile, run_dag, warehouse, then
) -> None:
    # The warehouse as hourly runs built it: the deals read from a date, then every later run from the mark.
    run_dag("hubspot_deals", MIDNIGHT, conf={"full_refresh": False, "since": "2025-05-01"})
    extract(hubspot=False)
    reconcile()
    _capi(run_dag)
    before = _attribution(warehouse)
    sent = _events(served)
    assert len(before) == 6 and sum(row[1] for row in before.values()) == 5
    assert set(sent) == {f"won_hubspot:{SENT}", f"won_hubspot:{NO_CLOSEDATE}", f"won_hubspot:{LEAD_IN_MAY}"}

    # The migration: HubSpot's import re-creates every deal (stage entry and createdate: the import's instant).
    new_ids = {int(old): int(new) for old, new in _post(served, "deals/re-id", {"firstId": 900_000})["ids"].items()}
    hour = _next_hour(served)
    hourly = run_dag("hubspot_deals", hour, conf=INCREMENTAL)
    extracted = next(ti for ti in hourly.get_task_instances() if ti.task_id == "extract_hubspot_deals")
    counts = extracted.xcom_pull(task_ids="extract_hubspot_deals")
    reconcile()
    _capi(run_dag)
    if then == "runbook_full_refresh_and_rebuild":
        run_dag("hubspot_deals", hour, conf={"full_refresh": True, "since": None})
        reconcile(full_rebuild=True)  # a rebuild of every mart keeps the lineages' moments
        _capi(run_dag)

    after = _attribution(warehouse)
    assert set(after) == set(before), "the same lineages, under the same stable keys: no deal counted twice"
    assert _moments(after) == _moments(before), "no lead day, won day or time to close moved"
    assert {key: row[0] for key, row in after.items()} == {key: new_ids[row[0]] for key, row in before.items()}
    assert _events(served) == sent, "nothing new reached Pinterest"
    outbox = dict(warehouse.execute("SELECT event_id, won_at FROM ops.capi_outbox"))
    assert outbox[f"won_hubspot:{OLD}"] == before[f"hubspot:{OLD}"][4], "the old sale keeps its event time"
    assert warehouse.execute(
        "SELECT count(*) FROM ops.record_issues WHERE source IN ('hubspot.deal_key', 'hubspot.deal_won_time')"
    ).fetchone() == (0,), "no key was refused, no won time taken from an import's instant"
    # The hourly run asked HubSpot about the 6 old ids (one batch read) and found them gone.
    assert (counts["deals"], counts.get("predecessors_checked"), counts.get("predecessors_gone")) == (6, 6, 6)
    assert counts["api"]["requests.deal_batch"] == 1


def test_a_fresh_install_after_a_migration_takes_closedate_for_import_instant_entries_and_flags_them(
    served, extract, reconcile, run_dag, warehouse
) -> None:
    # The migration happened before pin2deal was installed: the warehouse never saw the old deals. One importer
    # mapped the old createdate, the others did not.
    kept = _post(served, "deals/re-id", {"ids": [str(LEAD_IN_MAY)], "keepCreateDate": True})["ids"]
    others = [str(deal["id"]) for deal in _deals() if int(deal["id"]) != LEAD_IN_MAY]
    new_ids = {**kept, **_post(served, "deals/re-id", {"ids": others})["ids"]}
    new_ids = {int(old): int(new) for old, new in new_ids.items()}
    imported = served.app.state.sandbox.now().astimezone(ZoneInfo(TIMEZONE)).date()  # the account's day

    run_dag("hubspot_deals", _next_hour(served), conf={"full_refresh": True, "since": None})
    extract(hubspot=False)
    reconcile()
    _capi(run_dag)

    rows = {
        deal_id: (won_day, lead_day, time_to_close)
        for deal_id, won_day, lead_day, time_to_close in warehouse.execute(
            "SELECT deal_id, won_day, lead_day, time_to_close FROM mart.deal_attribution WHERE is_won"
        )
    }
    june = dt.date(2025, 6, 1)
    assert {old: rows[new][0] for old, new in new_ids.items() if new in rows} == {
        SENT: june.replace(day=28), OLD: june.replace(day=29), LEAD_IN_MAY: june.replace(day=26),
        GOOGLE: june.replace(day=28), NO_CLOSEDATE: imported,
    }, "won on its closedate; without one, on the only instant HubSpot gives"  # fmt: skip
    assert rows[new_ids[LEAD_IN_MAY]][1:] == (dt.date(2025, 5, 6), dt.timedelta(days=51)), "the mapped createdate"
    assert rows[new_ids[SENT]][1:] == (june.replace(day=28), dt.timedelta(0)), "a lead never comes after its win"
    flagged = {
        int(record_key): (field, reason.split(": won time ")[1])
        for record_key, field, reason in warehouse.execute(
            "SELECT record_key, field, reason FROM ops.record_issues WHERE source = 'hubspot.deal_won_time'"
        )
    }
    assert flagged == {
        new_ids[deal_id]: ("hs_v2_date_entered_closedwon", "is its closedate")
        for deal_id in (SENT, OLD, LEAD_IN_MAY, GOOGLE)
    } | {new_ids[NO_CLOSEDATE]: ("hs_v2_date_entered_closedwon", "is that instant")}
    # Pinterest learns the recent sales at their closedate, never at the import's instant.
    received = httpx.get(f"{served.url}/_sandbox/events", timeout=30).json()["events"]
    times = {
        event["event"]["custom_data"]["order_id"]: event["event"]["event_time"]
        for event in received
        if event["event"]["event_name"] == "checkout"
    }
    assert not [event for event in received if event["event"]["event_name"] == "lead"], (
        "no lead at an import's instant: when those leads happened is unknown (or too old)"
    )
    closed = dt.datetime.fromisoformat(at("2025-06-28").replace("Z", "+00:00"))
    assert times[f"hubspot:{new_ids[SENT]}"] == int(closed.timestamp())
    assert f"hubspot:{new_ids[OLD]}" in times and f"hubspot:{new_ids[LEAD_IN_MAY]}" in times
