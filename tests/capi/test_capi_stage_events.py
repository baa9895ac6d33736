"""Stage events through the DAGs (``hubspot_deals`` -> ``attribution_reconcile`` -> ``pinterest_capi``, for real,
against the sandbox and the warehouse): a pipeline stage mapped to a Pinterest event name yields that event once per
lineage and stage, at the lineage's first real entry into the stage; a deal going back and re-entering it, a CRM
migration (whose import instant is no entry) or a merge yields none again; a mapping naming a stage the portal does
not have stops the run, naming it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import psycopg
import pytest

from pin2deal.capi.payload import CapiSettings
from tests.capi import test_capi_funnel
from tests.capi.capi_worlds import (
    arrange_outbox,
    assert_events_conform,
    ledger,
    official_spec_or_skip,
    outbox_row,
    received,
    received_counts,
)
from tests.capi.test_capi_funnel import LATER_TODAY, TODAY, lead_time, states
from tests.capi.test_capi_pipeline import paid
from tests.conftest import ROOT
from tests.hubspot.deal_worlds import contact
from tests.reconcile.conftest import HUBSPOT_CONF, MIDNIGHT
from tests.reconcile.reconcile_worlds import at

# The funnel tests' world: the reconcile world with these deals, extracted and reconciled.
funnel_of = test_capi_funnel.funnel_of

STAGE = "qualified"  # the world's open stage (the pipeline: qualified -> closedwon / closedlost)
KIND, SIGNUP = f"stage:{STAGE}", {STAGE: "signup"}
NEW, DENIED, OLD, MIGRATED, REENTERED = 2401, 2402, 2403, 2404, 2405


def stage_id(number: int) -> str:
    return f"stage_{STAGE}_hubspot:{number}"


def entered(
    deal_id: int, created: str, entry: str | None = None, contacts: tuple[int, ...] = (6001,), **props: Any
) -> dict[str, Any]:
    """A Pinterest-paid deal created at ``created`` in the stage, entered at ``entry`` (default: its creation)."""
    return paid(deal_id, created, modified=created, contacts=contacts,
                **{f"hs_v2_date_entered_{STAGE}": at(entry or created), **props})  # fmt: skip


@pytest.fixture
def map_stages(dagbag, monkeypatch):
    """``map_stages(mapping)``: ``pinterest_capi`` as deployed with ``STAGE_EVENTS = mapping`` in its DAG file (the
    fill task and the operator both get it)."""

    def configure(mapping: dict[str, str]) -> None:
        dag = dagbag.get_dag("pinterest_capi")
        monkeypatch.setitem(dag.get_task("fill_capi_outbox").op_kwargs, "stage_events", mapping)
        monkeypatch.setattr(dag.get_task("send_conversions"), "stage_events", mapping)

    return configure


def stage_events(conn: psycopg.Connection) -> dict[str, tuple[str, str, str | None]]:
    return {event_id: state for event_id, state in states(conn).items() if state[0] == KIND}


@pytest.mark.pinterest_spec
def test_a_mapped_stage_yields_its_event_once_per_lineage_at_the_first_entry(funnel_of, map_stages, warehouse):
    """Entered today: one ``signup`` at the entry, in a request of its own kind; a dry run first builds and records it
    only; consent and the age limit hold as for the other kinds; going back and re-entering sends nothing again."""
    spec = official_spec_or_skip()
    pipeline = funnel_of(
        [entered(NEW, TODAY), entered(DENIED, TODAY, contacts=(6002,)), entered(OLD, "2025-06-01")],
        [contact(6001), contact(6002, ads_consent="denied")],
    )
    map_stages(SIGNUP)

    dry = pipeline.capi(dry_run=True)
    assert received(pipeline.server) == [] and dry["skipped_by_reason"]["dry_run"] == 2
    first = pipeline.capi(MIDNIGHT + dt.timedelta(minutes=5))

    assert received_counts(pipeline.server) == {f"lead_hubspot:{NEW}": 1, stage_id(NEW): 1}
    event = next(e["event"] for e in received(pipeline.server) if e["event_id"] == stage_id(NEW))
    assert_events_conform(spec, [event])
    assert (event["event_name"], event["event_time"]) == ("signup", lead_time(TODAY)), "the stage's entry time"
    assert "custom_data" not in event and event["user_data"]["click_id"] == f"dj0yJnU9{NEW}.click"
    assert first["requests"] == 2, "one request per kind: the leads, the stage events"
    assert stage_events(warehouse) == {
        stage_id(NEW): (KIND, "sent", None), stage_id(DENIED): (KIND, "skipped", "consent_denied"),
        stage_id(OLD): (KIND, "skipped", "too_old"),
    }  # fmt: skip

    # The deal leaves the stage and comes back: HubSpot's entry time moves to the second entry.
    pipeline.mutate(f"deals/{NEW}/update", {"properties": {
        "hs_v2_date_entered_closedlost": at(TODAY), f"hs_v2_date_entered_{STAGE}": at(LATER_TODAY)}})  # fmt: skip
    pipeline.extract_changes()
    again = pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))

    assert again["sent"] == 0 and received_counts(pipeline.server)[stage_id(NEW)] == 1, "no second stage event"
    kept = warehouse.execute("SELECT event_at FROM ops.capi_outbox WHERE event_id = %s", (stage_id(NEW),)).fetchone()
    assert kept[0].timestamp() == lead_time(TODAY), "the first entry stays the event's time"


def test_a_reentry_gives_an_event_skipped_too_old_no_second_chance(funnel_of, map_stages, warehouse) -> None:
    """Entered 10 days ago (too old for Pinterest), re-entered today: the lineage's entry is still the first one, so
    the event is not decided again, and nothing is sent."""
    pipeline = funnel_of([entered(REENTERED, "2025-06-01", entry="2025-06-20")], [contact(6001)])
    map_stages(SIGNUP)
    pipeline.capi()
    assert stage_events(warehouse) == {stage_id(REENTERED): (KIND, "skipped", "too_old")}

    pipeline.mutate(f"deals/{REENTERED}/update", {"properties": {f"hs_v2_date_entered_{STAGE}": at(LATER_TODAY)}})
    pipeline.extract_changes()
    summary = pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))

    assert (summary["sent"], summary["processed"]) == (0, 0)
    assert received(pipeline.server) == []
    assert stage_events(warehouse) == {stage_id(REENTERED): (KIND, "skipped", "too_old")}


def test_a_crm_migration_yields_no_second_stage_event_and_its_import_is_no_entry(
    funnel_of, map_stages, warehouse, run_dag
) -> None:
    """The deals re-created under new ids (HubSpot writes the import's instant as the entry into their stage): the
    event sent stays the lineage's only one, the one skipped too old stays so; a deal first seen with a legacy id,
    entered at its own creation instant (an import into a fresh install), has no stage entry at all."""
    pipeline = funnel_of(
        [entered(NEW, TODAY), entered(OLD, "2025-06-01"),
         entered(MIGRATED, TODAY, legacy_deal_id="SF-0042")],
        [contact(6001)],
    )  # fmt: skip
    map_stages(SIGNUP)
    pipeline.capi()
    assert received_counts(pipeline.server) == {f"lead_hubspot:{NEW}": 1, stage_id(NEW): 1}
    assert stage_id(MIGRATED) not in states(warehouse), "an import's instant is no entry"

    migration = {"ids": [str(NEW), str(OLD)], "firstId": 900_000}
    answer = httpx.post(f"{pipeline.server.url}/_sandbox/hubspot/deals/re-id", json=migration, timeout=30)
    answer.raise_for_status()
    run_dag("hubspot_deals", MIDNIGHT + dt.timedelta(hours=1), conf=HUBSPOT_CONF)
    pipeline.reconcile()
    summary = pipeline.capi(MIDNIGHT + dt.timedelta(hours=2))

    assert summary["sent"] == 0
    assert received_counts(pipeline.server) == {f"lead_hubspot:{NEW}": 1, stage_id(NEW): 1}, "nothing new"
    assert stage_events(warehouse) == {
        stage_id(NEW): (KIND, "sent", None), stage_id(OLD): (KIND, "skipped", "too_old"),
    }  # fmt: skip
    outbox = dict(warehouse.execute("SELECT event_id, deal_id FROM ops.capi_outbox WHERE event_kind = %s", (KIND,)))
    assert set(outbox) == {stage_id(NEW), stage_id(OLD)}
    assert set(outbox.values()) <= {int(new) for new in answer.json()["ids"].values()}, "rows follow the new ids"


def test_a_stage_mapped_later_gets_its_events_and_one_unmapped_loses_its_rows(funnel_of, map_stages, warehouse):
    """The fill looks at every deal once when the mapped stages change, though no deal changed: a stage mapped after
    its deals entered it gets its rows (and sends), a stage no longer mapped loses them (the ledger keeps its rows)."""
    pipeline = funnel_of([entered(NEW, TODAY)], [contact(6001)])
    pipeline.capi()
    assert received_counts(pipeline.server) == {f"lead_hubspot:{NEW}": 1}, "no stage events unless configured"
    pipeline.extract_changes()  # the next hourly extraction and reconcile: the deal did not change
    assert pipeline.capi(MIDNIGHT + dt.timedelta(minutes=30))["processed"] == 0

    map_stages(SIGNUP)
    mapped = pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))
    assert (mapped["sent"], received_counts(pipeline.server)[stage_id(NEW)]) == (1, 1)

    map_stages({})
    pipeline.capi(MIDNIGHT + dt.timedelta(hours=2))
    kinds = {kind for (kind,) in warehouse.execute("SELECT DISTINCT event_kind FROM ops.capi_outbox")}
    assert kinds == {"lead"} and stage_events(warehouse) == {stage_id(NEW): (KIND, "sent", None)}


SURVIVOR, MERGED = 601, 602


def test_a_merge_yields_no_second_stage_event_for_the_lineage(funnel_of, map_stages, warehouse) -> None:
    """602's stage event is sent; 601 (no contact yet: skipped no_identifier) absorbs 602 and its contact: its own
    stage event could now be sent, but its lineage already has one."""
    pipeline = funnel_of(
        [entered(SURVIVOR, TODAY, contacts=()), entered(MERGED, TODAY, contacts=(6002,))], [contact(6002)]
    )
    map_stages(SIGNUP)
    pipeline.capi()
    assert received_counts(pipeline.server)[stage_id(MERGED)] == 1
    assert stage_events(warehouse)[stage_id(SURVIVOR)] == (KIND, "skipped", "no_identifier")

    pipeline.mutate("deals/merge", {"primaryObjectId": str(SURVIVOR), "objectIdToMerge": str(MERGED)})
    pipeline.extract_changes()
    summary = pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))

    assert summary["sent"] == 0
    assert received_counts(pipeline.server) == {f"lead_hubspot:{MERGED}": 1, stage_id(MERGED): 1}
    survivor = ledger(warehouse, KIND)[stage_id(SURVIVOR)]
    assert (survivor["state"], survivor["reason"]) == ("skipped", "lineage_already_reported")
    assert stage_id(MERGED) in survivor["error_message"]


def test_a_mapping_naming_a_stage_the_portal_does_not_have_stops_the_run_naming_it(
    funnel_of, map_stages, warehouse, run_dag
) -> None:
    """A typo'd stage id, or the closed-won stage (won is the checkout): the run fails at its start, naming the
    stage, and sends nothing (never silently nothing for that stage)."""
    from pin2deal.capi.send import StageEventsRefused, check_stage_events

    pipeline = funnel_of([entered(NEW, TODAY)], [contact(6001)])
    map_stages({"qualifed": "signup"})

    dag_run = run_dag("pinterest_capi", MIDNIGHT, conf={"dry_run": False, "test_mode": False}, expect="failed")

    ended = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert ended["fill_capi_outbox"] == "failed" and ended["send_conversions"] != "success"
    assert received(pipeline.server) == [] and states(warehouse) == {}
    with pytest.raises(StageEventsRefused, match=r"stage 'qualifed' is not a stage of the portal's deal pipelines"):
        check_stage_events(warehouse, {"qualifed": "signup", STAGE: "signup"})
    with pytest.raises(StageEventsRefused, match=r"stage 'closedwon' is closed-won .*won is the checkout"):
        check_stage_events(warehouse, {"closedwon": "custom"})
    with pytest.raises(ValueError, match=r"stage_events\.qualified: 'schedule' is not an event name"):
        check_stage_events(warehouse, {STAGE: "schedule"})
    check_stage_events(warehouse, SIGNUP)  # a stage of the portal: accepted


@pytest.mark.parametrize(
    ("mapping", "error"),
    [
        ({STAGE: "schedule"}, r"stage_events\.qualified: 'schedule' is not an event name a stage can send"),
        ({STAGE: "checkout"}, r"'checkout' is not an event name a stage can send.*own kinds"),
        ({" qualified": "signup"}, r"stage_events: ' qualified' is not a HubSpot stage id"),
    ],
)
def test_a_stage_mapped_to_no_event_a_stage_can_send_is_refused(mapping, error) -> None:
    with pytest.raises(ValueError, match=error):
        CapiSettings(stage_events=mapping)


def test_a_stage_kind_has_its_own_settings_and_a_run_can_turn_it_on(capi_sandbox, warehouse, send_conversions):
    """A test-mode run decides nothing; a mapped stage switched off in ``event_kinds`` waits undecided;
    ``enable_event_kinds`` (a manual run's param) sends it; its own age limit holds for it alone."""
    server = capi_sandbox()
    now = dt.datetime.now(dt.UTC)
    fresh = outbox_row(1, None, event_id=stage_id(1), event_kind=KIND, event_at=now - dt.timedelta(hours=2))
    day_old = outbox_row(2, None, event_id=stage_id(2), event_kind=KIND, event_at=now - dt.timedelta(hours=30))
    arrange_outbox(warehouse, [fresh, day_old])
    off = {KIND: {"enabled": False, "max_event_age_days": 1}}

    test = send_conversions("manual__0", stage_events=SIGNUP, test_mode=True)
    assert test["skipped_by_reason"] == {"test_mode": 2} and received(server) == [], "test mode decides nothing"
    first = send_conversions(stage_events=SIGNUP, event_kinds=off)
    assert first["processed"] == 0
    assert {row["reason"] for row in ledger(warehouse).values()} == {"test_mode"}, "switched off: not decided"
    on = send_conversions("manual__2", stage_events=SIGNUP, event_kinds=off, enable_event_kinds=[KIND])

    assert (on["processed"], on["sent"], on["skipped_by_reason"]) == (2, 1, {"too_old": 1})
    assert received_counts(server) == {stage_id(1): 1}
    assert next(e for e in received(server) if e["event_id"] == stage_id(1))["event"]["event_name"] == "signup"
    with pytest.raises(ValueError, match=r"enable_event_kinds: \['stage:demo'\] are not event kinds"):
        send_conversions("manual__3", stage_events=SIGNUP, enable_event_kinds=["stage:demo"])


def test_a_deployment_maps_stages_through_its_environment(airflow_db, monkeypatch) -> None:
    """``PIN2DEAL_CAPI_STAGE_EVENTS`` (JSON) reaches both tasks and the run param's kinds when the DAG file is parsed:
    a provider install, which cannot edit the packaged DAG file, maps its stages there."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("PIN2DEAL_CAPI_STAGE_EVENTS", json.dumps(SIGNUP))
    dag = DagBag(dag_folder=str(ROOT / "dags" / "pinterest_capi.py")).get_dag("pinterest_capi")
    assert dag.get_task("fill_capi_outbox").op_kwargs["stage_events"] == SIGNUP
    assert dag.get_task("send_conversions").stage_events == SIGNUP
    assert KIND in dag.params.get_param("enable_event_kinds").schema["items"]["enum"]
