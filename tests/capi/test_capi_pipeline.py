"""End to end: hubspot_deals -> pinterest_spend -> attribution_reconcile -> pinterest_capi, every DAG run for real
(``dag.test()``) against the sandbox and the warehouse. The outbox SQL over the mart, a re-run, a backfill, and a
full re-extraction after a CRM migration: each won deal is sent once, under one event id, or explained."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
import psycopg
import pytest

from tests.capi.capi_worlds import assert_events_conform, ledger, official_spec_or_skip, received, received_counts
from tests.hubspot.deal_worlds import contact
from tests.reconcile.conftest import HUBSPOT_CONF, MIDNIGHT
from tests.reconcile.reconcile_worlds import A111, C1, G11, at, deal, macros, world
from tests.reconcile.reconcile_worlds import paid as unresolved_paid


def paid(deal_id: int, created: str, **props: Any) -> dict[str, Any]:
    """A Pinterest-paid deal resolved by its campaign-id macros."""
    return unresolved_paid(deal_id, created, **macros(C1, G11, A111), **props)


CAPI_CONF = {"dry_run": False, "test_mode": False}
# The sandbox's clock is 2025-06-30 (the reconcile world's today): Pinterest takes events won since 2025-06-23.
SENT, CONSENT, OLD, IP_ONLY, NOBODY, ORGANIC, GOOGLE, OPEN, NO_AMOUNT, MIGRATED = range(2001, 2011)
DEALS = [
    paid(SENT, "2025-06-01", won="2025-06-28", contacts=(6001,), amount="1499.90"),
    paid(CONSENT, "2025-06-01", won="2025-06-29", contacts=(6002,)),
    paid(OLD, "2025-06-01", won="2025-06-20", contacts=(6001,)),
    paid(IP_ONLY, "2025-06-01", won="2025-06-27", ip_address="203.0.113.7", user_agent="Mozilla/5.0 (Macintosh)"),
    paid(NOBODY, "2025-06-01", won="2025-06-27", ip_address="203.0.113.8"),
    deal(ORGANIC, "2025-06-01", won="2025-06-28", utm_source="pinterest", contacts=(6001,)),
    deal(GOOGLE, "2025-06-01", won="2025-06-28", utm_source="google", contacts=(6001,)),
    paid(OPEN, "2025-06-01", contacts=(6001,)),
    paid(NO_AMOUNT, "2025-06-01", won="2025-06-28", contacts=(6001,), amount="TBD"),
    paid(MIGRATED, "2025-06-01", won="2025-06-26", contacts=(6003,), amount="250"),
]
CONTACTS = [contact(6001), contact(6002, ads_consent="denied"), contact(6003, email="Migrated@Example.com")]


@pytest.fixture
def pipeline(serve_world, extract, reconcile, run_dag):
    """Serve the world, run the extractions and the reconcile; ``pipeline.capi()`` runs ``pinterest_capi``."""
    dataset = world()
    dataset.deals, dataset.contacts = DEALS, CONTACTS
    server = serve_world(dataset)
    extract()
    reconcile()

    class Pipeline:
        def __init__(self) -> None:
            self.server = server

        def capi(self, logical_date: dt.datetime = MIDNIGHT, **conf: Any) -> dict[str, Any]:
            dag_run = run_dag("pinterest_capi", logical_date, conf=CAPI_CONF | conf)
            send = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "send_conversions")
            return send.xcom_pull(task_ids="send_conversions")

    return Pipeline()


@pytest.fixture(autouse=True)
def clean_capi(warehouse: psycopg.Connection):
    warehouse.execute("TRUNCATE ops.capi_outbox, ops.capi_ledger")
    yield


def won_keys(conn: psycopg.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT 'won_' || stable_key, deal_id FROM mart.deal_attribution WHERE is_won"))


@pytest.mark.pinterest_spec
def test_won_deals_become_one_conforming_checkout_each_or_an_explained_skip(pipeline, warehouse) -> None:
    spec = official_spec_or_skip()

    summary = pipeline.capi()

    won = won_keys(warehouse)
    by_deal = {deal_id: event_id for event_id, deal_id in won.items()}
    assert OPEN not in by_deal and len(won) == 9
    entries = ledger(warehouse)
    assert set(entries) == set(won), "every won deal has a ledger row"
    decided = {deal_id: (entries[event_id]["state"], entries[event_id]["reason"]) for event_id, deal_id in won.items()}
    assert decided == {
        SENT: ("sent", None), IP_ONLY: ("sent", None), MIGRATED: ("sent", None),
        CONSENT: ("skipped", "consent_denied"), OLD: ("skipped", "too_old"), NOBODY: ("skipped", "no_identifier"),
        ORGANIC: ("skipped", "channel_not_configured"), GOOGLE: ("skipped", "channel_not_configured"),
        NO_AMOUNT: ("skipped", "bad_amount"),
    }  # fmt: skip
    assert summary | {"skipped_by_reason": None} == {
        "processed": 9, "sent": 3, "failed": 0, "skipped": 6, "skipped_by_reason": None, "possible_repeats": 0,
        "requests": 1, "bad_request_splits": 0, "dry_run": False, "test_mode": False,
    }  # fmt: skip
    events = {event["event_id"]: event["event"] for event in received(pipeline.server)}
    assert set(events) == {by_deal[SENT], by_deal[IP_ONLY], by_deal[MIGRATED]}
    assert_events_conform(spec, list(events.values()))
    sent = events[by_deal[SENT]]
    stable_key = by_deal[SENT].removeprefix("won_")
    assert sent["event_time"] == int(dt.datetime.fromisoformat(at("2025-06-28").replace("Z", "+00:00")).timestamp())
    assert sent["custom_data"] == {"currency": "USD", "value": "1499.90", "order_id": stable_key}
    assert sent["user_data"]["em"] == [hashlib.sha256(b"buyer6001@example.com").hexdigest()]
    assert sent["user_data"]["ph"] == [hashlib.sha256(b"14155550100").hexdigest()]
    assert sent["user_data"]["click_id"] == f"dj0yJnU9{SENT}.click"
    assert events[by_deal[IP_ONLY]]["user_data"] == {
        "click_id": f"dj0yJnU9{IP_ONLY}.click", "client_ip_address": "203.0.113.7",
        "client_user_agent": "Mozilla/5.0 (Macintosh)",
    }  # fmt: skip
    raw_pii = ("buyer6001", "5550100", "Ann")
    assert not any(text in str(events) for text in raw_pii), "no raw PII leaves the warehouse"


def test_a_rerun_and_a_backfill_send_nothing_again(pipeline, warehouse) -> None:
    pipeline.capi()
    before = ledger(warehouse)

    again = pipeline.capi()
    backfill = [pipeline.capi(MIDNIGHT - dt.timedelta(hours=hours)) for hours in (24, 48, 72)]

    assert again["sent"] == 0 and all(run["sent"] == 0 for run in backfill)
    assert set(received_counts(pipeline.server).values()) == {1}
    after = ledger(warehouse)
    assert {k: (v["state"], v["sent_at"], v["attempts"]) for k, v in after.items() if v["state"] == "sent"} == {
        k: (v["state"], v["sent_at"], v["attempts"]) for k, v in before.items() if v["state"] == "sent"
    }


def test_a_full_reextraction_after_a_crm_migration_sends_nothing_twice(pipeline, warehouse, run_dag, reconcile) -> None:
    pipeline.capi()
    sent_before = received_counts(pipeline.server)
    event_ids_before = set(won_keys(warehouse))

    # The migration: every deal re-created with a new id, the old id in the legacy-id property, the old ids gone.
    answer = httpx.post(f"{pipeline.server.url}/_sandbox/hubspot/deals/re-id", json={"firstId": 900_000}, timeout=30)
    answer.raise_for_status()
    new_ids = {int(old): int(new) for old, new in answer.json()["ids"].items()}
    # The full re-extraction: it ends by marking the old ids, which HubSpot no longer lists, deleted (raw keeps
    # them), and the new deals take over their lineages' stable keys. The default max_deleted_share lets it: every
    # old id has a successor (re-identified, not lost).
    run_dag("hubspot_deals", MIDNIGHT - dt.timedelta(hours=1), conf=HUBSPOT_CONF)
    deleted = warehouse.execute(
        "SELECT count(*) FROM raw.hubspot_deals WHERE deal_id = ANY(%s) AND deleted_at IS NOT NULL", (list(new_ids),)
    ).fetchone()[0]
    assert deleted == len(new_ids)
    assert warehouse.execute("SELECT count(*) FROM ops.record_issues WHERE source = 'hubspot.deal_key'").fetchone() == (
        0,
    ), "no key is left refused once the old deals are gone"
    reconcile()

    summary = pipeline.capi()

    won = won_keys(warehouse)
    assert set(won) == event_ids_before, "the stable keys, hence the event ids, survive the migration"
    assert set(won.values()) <= set(new_ids.values()), "the mart now holds the new deal ids"
    assert (summary["processed"], summary["sent"]) == (5, 0)  # the skipped ones, decided again
    assert received_counts(pipeline.server) == sent_before
    outbox_deals = dict(warehouse.execute("SELECT event_id, deal_id FROM ops.capi_outbox"))
    assert set(outbox_deals) == event_ids_before and set(outbox_deals.values()) <= set(new_ids.values())
    entries = ledger(warehouse)
    assert set(entries) == event_ids_before
    assert sum(entry["state"] == "sent" for entry in entries.values()) == 3
    assert not any(entry["possible_repeat"] for entry in entries.values())
