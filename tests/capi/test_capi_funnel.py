"""The funnel through the DAGs (``hubspot_deals`` -> ``attribution_reconcile`` -> ``pinterest_capi``, for real, against
the sandbox and the warehouse): a Pinterest deal created today yields one ``lead`` (under the tag's event id when the
CRM has it), and one ``checkout`` when won; a CRM migration or a merge yields no second lead. Kinds can be switched
off, and a manual run's param turns one on."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import psycopg
import pytest

from tests.capi.capi_worlds import (
    arrange_outbox,
    assert_events_conform,
    ledger,
    official_spec_or_skip,
    outbox_row,
    received,
    received_counts,
)
from tests.capi.test_capi_pipeline import Pipeline, paid
from tests.capi.test_capi_quality import week_keys
from tests.hubspot.deal_worlds import CUSTOM, FAST, TOKEN, _property, contact, hubspot_connection
from tests.reconcile.conftest import HUBSPOT_CONF, MIDNIGHT
from tests.reconcile.reconcile_worlds import at, world

# The sandbox's clock is 2025-06-30 (the reconcile world's today) at the wall clock's time of day: "today" is its
# first minutes, so a deal created then is in the sandbox's past whenever the test runs.
TODAY, LATER_TODAY = "2025-06-30T00:01:00+00:00", "2025-06-30T00:02:00+00:00"
TAG_PROPERTY = "pin_event_id"  # the portal's property holding the tag's event id of the lead (deal or contact)
NEW, TAGGED, CONTACT_TAGGED, OLD = 2301, 2302, 2303, 2304


def lead_time(moment: str) -> int:
    return int(dt.datetime.fromisoformat(at(moment).replace("Z", "+00:00")).timestamp())


@pytest.fixture
def funnel_of(serve_world, extract, reconcile, run_dag, monkeypatch):
    """``funnel_of(deals, contacts)``: the reconcile world with these deals, the portal's ``pin_event_id`` property
    (deals and contacts) mapped to the role ``lead_event_id`` in ``hubspot_default``, extracted and reconciled."""

    def start(deals: list[dict[str, Any]], contacts: list[dict[str, Any]]) -> Pipeline:
        dataset = world()
        dataset.deals, dataset.contacts = deals, contacts
        dataset.properties = {
            "deals": [*dataset.properties["deals"], _property(TAG_PROPERTY, custom=True)],
            "contacts": [*dataset.properties["contacts"], _property(TAG_PROPERTY, custom=True)],
        }
        server = serve_world(dataset)
        connection = json.loads(hubspot_connection(server.url, TOKEN, **FAST))
        connection["extra"]["properties"] = {**CUSTOM, "lead_event_id": TAG_PROPERTY}
        monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", json.dumps(connection))
        extract()
        reconcile()
        return Pipeline(server, run_dag, reconcile)

    return start


@pytest.fixture(autouse=True)
def clean_capi(warehouse: psycopg.Connection):
    warehouse.execute("TRUNCATE ops.capi_outbox, ops.capi_ledger")
    yield


def sent_keys(conn: psycopg.Connection) -> Any:
    """The match keys of the events sent in the week to today (the ledger's clock), as the briefing reads them."""
    return week_keys(conn, conn.execute("SELECT (now() AT TIME ZONE 'UTC')::date").fetchone()[0])


def states(conn: psycopg.Connection) -> dict[str, tuple[str, str, str | None]]:
    """event id -> (kind, state, reason) of every ledger row."""
    return {event_id: (row["event_kind"], row["state"], row["reason"]) for event_id, row in ledger(conn).items()}


@pytest.mark.pinterest_spec
def test_a_deal_created_today_yields_one_lead_with_the_tags_id_and_when_won_one_checkout(funnel_of, warehouse) -> None:
    spec = official_spec_or_skip()
    pipeline = funnel_of(
        [paid(NEW, TODAY, modified=TODAY, contacts=(6001,)),
         paid(TAGGED, TODAY, modified=TODAY, contacts=(6001,), **{TAG_PROPERTY: " form-submit-2302 "}),
         paid(CONTACT_TAGGED, TODAY, modified=TODAY, contacts=(6002,)),
         paid(OLD, "2025-06-01", contacts=(6001,))],
        [contact(6001), contact(6002, **{TAG_PROPERTY: "form-submit-6002"})],
    )  # fmt: skip

    first = pipeline.capi()

    leads = {"lead_hubspot:2301", "form-submit-2302", "form-submit-6002"}
    assert received_counts(pipeline.server) == dict.fromkeys(leads, 1), "one lead per deal, under the tag's id"
    events = {event["event_id"]: event["event"] for event in received(pipeline.server)}
    assert_events_conform(spec, list(events.values()))
    assert {event["event_name"] for event in events.values()} == {"lead"}
    assert events["lead_hubspot:2301"]["event_time"] == lead_time(TODAY), "the lead moment: the deal's createdate"
    assert "custom_data" not in events["lead_hubspot:2301"], "a lead carries no order nor value"
    assert events["lead_hubspot:2301"]["user_data"]["click_id"] == f"dj0yJnU9{NEW}.click"
    assert states(warehouse)["lead_hubspot:2304"] == ("lead", "skipped", "too_old")
    assert first["sent"] == 3 and first["skipped_by_reason"] == {"too_old": 1}

    pipeline.mutate(f"deals/{NEW}/close-won", {"closedAt": at(TODAY)})
    pipeline.extract_changes()
    won = pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))

    assert (won["sent"], won["requests"]) == (1, 1)
    assert received_counts(pipeline.server) == dict.fromkeys([*leads, f"won_hubspot:{NEW}"], 1)
    checkout = {event["event_id"]: event["event"] for event in received(pipeline.server)}[f"won_hubspot:{NEW}"]
    assert checkout["event_name"] == "checkout" and checkout["custom_data"]["order_id"] == f"hubspot:{NEW}"
    assert states(warehouse)[f"won_hubspot:{NEW}"] == ("checkout", "sent", None)
    assert pipeline.capi(MIDNIGHT + dt.timedelta(hours=2))["processed"] == 0, "nothing decided twice"


def test_a_crm_migration_yields_no_second_lead_nor_a_lead_for_an_old_deal(funnel_of, warehouse, run_dag) -> None:
    """Every deal re-created under a new id with the import's instant as its createdate (HubSpot's import): the
    lineages keep their keys and lead moments, so today's lead is not sent again and May's deal, whose createdate is
    now today, gets no lead."""
    pipeline = funnel_of(
        [paid(NEW, TODAY, modified=TODAY, contacts=(6001,)), paid(OLD, "2025-05-06", contacts=(6001,))],
        [contact(6001)],
    )
    pipeline.capi()
    assert received_counts(pipeline.server) == {f"lead_hubspot:{NEW}": 1}
    keys = sent_keys(warehouse)
    assert (keys.events, keys.unrecorded, dict(keys.carrying)["click_id"], dict(keys.carrying)["em"]) == (1, 0, 1, 1)

    answer = httpx.post(f"{pipeline.server.url}/_sandbox/hubspot/deals/re-id", json={"firstId": 900_000}, timeout=30)
    answer.raise_for_status()
    run_dag("hubspot_deals", MIDNIGHT + dt.timedelta(hours=1), conf=HUBSPOT_CONF)
    pipeline.reconcile()

    summary = pipeline.capi(MIDNIGHT + dt.timedelta(hours=2))

    assert summary["sent"] == 0
    assert received_counts(pipeline.server) == {f"lead_hubspot:{NEW}": 1}, "nothing new reached Pinterest"
    assert states(warehouse) == {
        f"lead_hubspot:{NEW}": ("lead", "sent", None), f"lead_hubspot:{OLD}": ("lead", "skipped", "too_old"),
    }  # fmt: skip
    assert set(dict(warehouse.execute("SELECT deal_id, 1 FROM ops.capi_outbox"))) <= {
        int(new) for new in answer.json()["ids"].values()
    }, "the outbox follows the new deal ids"
    assert sent_keys(warehouse) == keys, "the week's match keys count the lineage's one lead, as before"


SURVIVOR, MERGED = 601, 602


def test_a_merge_yields_no_second_lead_for_the_lineage(funnel_of, warehouse) -> None:
    """602's lead is sent; 601 (created the same day, no contact yet: skipped no_identifier) absorbs 602 and its
    contact: 601's lead could now be sent, but its lineage already has one."""
    pipeline = funnel_of(
        [paid(SURVIVOR, TODAY, modified=TODAY), paid(MERGED, TODAY, modified=TODAY, contacts=(6002,))],
        [contact(6002)],
    )
    pipeline.capi()
    assert received_counts(pipeline.server) == {f"lead_hubspot:{MERGED}": 1}
    assert states(warehouse)[f"lead_hubspot:{SURVIVOR}"] == ("lead", "skipped", "no_identifier")
    keys = sent_keys(warehouse)
    assert (keys.events, dict(keys.carrying)["em"]) == (1, 1)

    pipeline.mutate("deals/merge", {"primaryObjectId": str(SURVIVOR), "objectIdToMerge": str(MERGED)})
    pipeline.extract_changes()
    summary = pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))

    assert summary["sent"] == 0 and summary["skipped_by_reason"] == {"lineage_already_reported": 1}
    assert received_counts(pipeline.server) == {f"lead_hubspot:{MERGED}": 1}, "no second lead reached Pinterest"
    survivor = ledger(warehouse)[f"lead_hubspot:{SURVIVOR}"]
    assert (survivor["state"], survivor["reason"]) == ("skipped", "lineage_already_reported")
    assert f"lead_hubspot:{MERGED}" in survivor["error_message"]
    assert sent_keys(warehouse) == keys, "the week's match keys count the lineage's one lead, as before"


def test_a_tag_id_shared_by_two_lineages_goes_to_the_earliest_lead_only(funnel_of, warehouse) -> None:
    """Two deals of one contact carrying the tag's id: Pinterest would take the second lead for a repeat of the
    first, so the later lineage falls back to its own id."""
    pipeline = funnel_of(
        [paid(NEW, TODAY, modified=TODAY, contacts=(6002,)),
         paid(TAGGED, LATER_TODAY, modified=LATER_TODAY, contacts=(6002,))],
        [contact(6002, **{TAG_PROPERTY: "form-submit-6002"})],
    )  # fmt: skip

    pipeline.capi()

    assert received_counts(pipeline.server) == {"form-submit-6002": 1, f"lead_hubspot:{TAGGED}": 1}
    assert ledger(warehouse)["form-submit-6002"]["deal_id"] == NEW


def test_a_tag_id_reaching_the_crm_after_the_lead_was_sent_yields_no_second_lead(funnel_of, warehouse) -> None:
    """The lead went out under ``lead_<stable key>``; the form's event id is written to the deal later: the lead's
    id becomes the tag's, and the lineage, whose lead Pinterest has, gets no second one."""
    pipeline = funnel_of([paid(NEW, TODAY, modified=TODAY, contacts=(6001,))], [contact(6001)])
    pipeline.capi()
    assert received_counts(pipeline.server) == {f"lead_hubspot:{NEW}": 1}

    pipeline.mutate(f"deals/{NEW}/update", {"properties": {TAG_PROPERTY: "form-submit-late"}})
    pipeline.extract_changes()
    summary = pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))

    assert summary["sent"] == 0 and summary["skipped_by_reason"] == {"lineage_already_reported": 1}
    assert received_counts(pipeline.server) == {f"lead_hubspot:{NEW}": 1}, "no second lead reached Pinterest"
    assert states(warehouse) == {
        f"lead_hubspot:{NEW}": ("lead", "sent", None),
        "form-submit-late": ("lead", "skipped", "lineage_already_reported"),
    }
    outbox = dict(warehouse.execute("SELECT event_id, stable_key FROM ops.capi_outbox WHERE event_kind = 'lead'"))
    assert outbox == {"form-submit-late": f"hubspot:{NEW}"}, "one lead row per lineage: the tag's id replaced ours"


def test_a_kind_switched_off_waits_undecided_and_a_run_can_turn_it_on(capi_sandbox, warehouse, send_conversions):
    """Leads off in the operator's settings: their rows wait undecided (no ledger row, no request); a run with
    ``enable_event_kinds`` (the DAG's param of a manual run) sends them; checkouts go either way."""
    server = capi_sandbox()
    now = dt.datetime.now(dt.UTC)
    lead = outbox_row(1, None, event_id="lead_hubspot:1", event_kind="lead", event_at=now - dt.timedelta(hours=2))
    arrange_outbox(warehouse, [lead, outbox_row(2, now - dt.timedelta(hours=1))])
    leads_off = {"lead": {"enabled": False}}

    off = send_conversions(event_kinds=leads_off)
    assert (off["processed"], off["sent"]) == (1, 1)
    assert set(ledger(warehouse)) == {"won_hubspot:2"}
    on = send_conversions("manual__2", event_kinds=leads_off, enable_event_kinds=["lead"])

    assert (on["processed"], on["sent"], on["reopened"]) == (1, 1, 0), "turning a kind on re-opens nothing"
    assert received_counts(server) == {"won_hubspot:2": 1, "lead_hubspot:1": 1}
    entry = ledger(warehouse)["lead_hubspot:1"]
    assert (entry["event_kind"], entry["state"]) == ("lead", "sent")
    assert next(e for e in received(server) if e["event_id"] == "lead_hubspot:1")["event"]["event_name"] == "lead"


def test_the_dag_offers_the_kinds_to_turn_on_as_a_param(dagbag) -> None:
    dag = dagbag.get_dag("pinterest_capi")
    assert dag.params["enable_event_kinds"] == []
    assert dag.get_task("send_conversions").enable_event_kinds == "{{ params.enable_event_kinds }}"
