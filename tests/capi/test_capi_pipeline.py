"""End to end: hubspot_deals -> pinterest_spend -> attribution_reconcile -> pinterest_capi, every DAG run for real
(``dag.test()``) against the sandbox and the warehouse. The outbox SQL over the mart, a re-run, a backfill, a full
re-extraction after a CRM migration, a merge after a sent checkout, unusable amounts, a won deal without a won
time, and the hourly run's cost: each sale is sent once, under one event id, or explained."""

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
from tests.reconcile.reconcile_worlds import A111, ACCOUNT_ID, C1, G11, at, deal, macros, world
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


class Pipeline:
    """A served world after its extractions and reconcile; ``capi()`` runs ``pinterest_capi``, ``extract_changes()``
    an incremental ``hubspot_deals`` run (no full refresh) over the sandbox's today, then the reconcile."""

    def __init__(self, server: Any, run_dag: Any, reconcile: Any) -> None:
        self.server, self.run_dag, self.reconcile = server, run_dag, reconcile

    def capi(self, logical_date: dt.datetime = MIDNIGHT, **conf: Any) -> dict[str, Any]:
        dag_run = self.run_dag("pinterest_capi", logical_date, conf=CAPI_CONF | conf)
        send = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "send_conversions")
        return send.xcom_pull(task_ids="send_conversions")

    def mutate(self, path: str, body: dict[str, Any]) -> None:
        httpx.post(f"{self.server.url}/_sandbox/hubspot/{path}", json=body, timeout=30).raise_for_status()

    def extract_changes(self) -> None:
        since = MIDNIGHT.date().isoformat()  # the sandbox's today, when its mutations happen
        self.run_dag("hubspot_deals", MIDNIGHT + dt.timedelta(days=1), conf={"full_refresh": False, "since": since})
        self.reconcile()


@pytest.fixture
def pipeline_of(serve_world, extract, reconcile, run_dag):
    """``pipeline_of(deals, contacts)``: serve the reconcile world with these deals, extract and reconcile."""

    def start(deals: list[dict[str, Any]], contacts: list[dict[str, Any]]) -> Pipeline:
        dataset = world()
        dataset.deals, dataset.contacts = deals, contacts
        server = serve_world(dataset)
        extract()
        reconcile()
        return Pipeline(server, run_dag, reconcile)

    return start


@pytest.fixture
def pipeline(pipeline_of) -> Pipeline:
    return pipeline_of(DEALS, CONTACTS)


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
    entries = ledger(warehouse, "checkout")
    assert set(entries) == set(won), "every won deal has a ledger row"
    decided = {deal_id: (entries[event_id]["state"], entries[event_id]["reason"]) for event_id, deal_id in won.items()}
    assert decided == {
        SENT: ("sent", None), IP_ONLY: ("sent", None), MIGRATED: ("sent", None), NO_AMOUNT: ("sent", None),
        CONSENT: ("skipped", "consent_denied"), OLD: ("skipped", "too_old"), NOBODY: ("skipped", "no_identifier"),
        ORGANIC: ("skipped", "channel_not_configured"), GOOGLE: ("skipped", "channel_not_configured"),
    }  # fmt: skip
    assert entries[by_deal[NO_AMOUNT]]["data_warning"] == (
        "amount 'TBD' is not a number: sent without value and currency"
    )
    # and the leads of the 10 deals, created on 1 June: too old, or of a channel not sent
    assert summary | {"skipped_by_reason": None} == {
        "processed": 9 + 10, "sent": 4, "failed": 0, "skipped": 5 + 10, "skipped_by_reason": None,
        "possible_repeats": 0,
        "data_warnings": 1, "requests": 1, "bad_request_splits": 0, "reopened": 0, "dry_run": False,
        "test_mode": False,
    }  # fmt: skip
    events = {event["event_id"]: event["event"] for event in received(pipeline.server)}
    assert set(events) == {by_deal[SENT], by_deal[IP_ONLY], by_deal[MIGRATED], by_deal[NO_AMOUNT]}
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
    before = ledger(warehouse, "checkout")

    again = pipeline.capi()
    backfill = [pipeline.capi(MIDNIGHT - dt.timedelta(hours=hours)) for hours in (24, 48, 72)]

    assert again["sent"] == 0 and all(run["sent"] == 0 for run in backfill)
    assert set(received_counts(pipeline.server).values()) == {1}
    after = ledger(warehouse, "checkout")
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
    assert (summary["processed"], summary["sent"]) == (0, 0)  # same inputs: nothing to decide again
    assert received_counts(pipeline.server) == sent_before
    outbox_deals = dict(
        warehouse.execute("SELECT event_id, deal_id FROM ops.capi_outbox WHERE event_kind = 'checkout'")
    )
    assert set(outbox_deals) == event_ids_before and set(outbox_deals.values()) <= set(new_ids.values())
    entries = ledger(warehouse, "checkout")
    assert set(entries) == event_ids_before
    assert sum(entry["state"] == "sent" for entry in entries.values()) == 4
    assert not any(entry["possible_repeat"] for entry in entries.values())


SURVIVOR, MERGED = 601, 602


def test_a_merge_after_a_sent_checkout_never_sends_the_lineage_a_second_one(pipeline_of, warehouse) -> None:
    """602 is won and its checkout sent; ops merge it into the older open deal 601; later 601 is won. One sale, one
    checkout: 601's event is skipped, naming 602's, and 602's ledger row is found from the survivor."""
    pipeline = pipeline_of(
        [paid(SURVIVOR, "2025-06-01", contacts=(6001,)),
         paid(MERGED, "2025-06-10", won="2025-06-28", contacts=(6002,), amount="800")],
        [contact(6001), contact(6002)],
    )  # fmt: skip
    assert pipeline.capi()["sent"] == 1
    assert set(received_counts(pipeline.server)) == {f"won_hubspot:{MERGED}"}

    pipeline.mutate("deals/merge", {"primaryObjectId": str(SURVIVOR), "objectIdToMerge": str(MERGED)})
    pipeline.extract_changes()
    pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))
    pipeline.mutate(f"deals/{SURVIVOR}/close-won", {"closedAt": "2025-06-29T15:00:00Z"})
    pipeline.extract_changes()

    summary = pipeline.capi(MIDNIGHT + dt.timedelta(hours=2))

    assert summary["sent"] == 0 and summary["skipped_by_reason"] == {"lineage_already_reported": 1}
    assert received_counts(pipeline.server) == {f"won_hubspot:{MERGED}": 1}, "no second checkout reached Pinterest"
    entries = ledger(warehouse, "checkout")
    survivor = entries[f"won_hubspot:{SURVIVOR}"]
    assert (survivor["state"], survivor["reason"], survivor["deal_id"]) == (
        "skipped", "lineage_already_reported", SURVIVOR
    )  # fmt: skip
    assert f"won_hubspot:{MERGED}" in survivor["error_message"]
    assert entries[f"won_hubspot:{MERGED}"]["state"] == "sent"
    lineage = dict(
        warehouse.execute(
            "SELECT event_id, state FROM ops.capi_lineage_ledger WHERE event_kind = 'checkout' AND lineage_key = "
            "(SELECT stable_key FROM raw.hubspot_deal_ids WHERE alias_id = %s)",
            (f"hubspot:{SURVIVOR}",),
        ).fetchall()
    )
    assert lineage == {f"won_hubspot:{MERGED}": "sent", f"won_hubspot:{SURVIVOR}": "skipped"}
    assert pipeline.capi(MIDNIGHT + dt.timedelta(hours=3))["processed"] == 0


USD, COMMA, DOLLAR, WORDS, NEGATIVE, NO_WON_TIME = range(2101, 2107)


def test_unusable_amounts_are_sent_without_value_and_a_won_deal_without_won_time_is_explained(
    pipeline_of, warehouse
) -> None:
    deals = [
        paid(USD, "2025-06-01", won="2025-06-28", contacts=(6001,), amount="99.90", deal_currency_code="usd"),
        paid(COMMA, "2025-06-01", won="2025-06-28", contacts=(6001,), amount="1,200.50"),
        paid(DOLLAR, "2025-06-01", won="2025-06-28", contacts=(6001,), amount="$300"),
        paid(WORDS, "2025-06-01", won="2025-06-28", contacts=(6001,), amount="call me"),
        paid(NEGATIVE, "2025-06-01", won="2025-06-28", contacts=(6001,), amount="-50"),
        # won (its stage is closed-won), but HubSpot has neither the stage's entry time nor a close date
        paid(NO_WON_TIME, "2025-06-01", won="2025-06-28", contacts=(6001,), closedate="",
             hs_v2_date_entered_closedwon=""),
    ]  # fmt: skip
    pipeline = pipeline_of(deals, [contact(6001)])

    summary = pipeline.capi()

    assert (summary["sent"], summary["data_warnings"], summary["skipped_by_reason"]) == (
        5, 4, {"no_won_time": 1, "too_old": 6}  # the leads of deals created on 1 June
    )  # fmt: skip
    events = {event["event_id"]: event["event"] for event in received(pipeline.server)}
    keys = {deal_id: event_id for event_id, deal_id in won_keys(warehouse).items()}
    assert events[keys[USD]]["custom_data"] == {"value": "99.90", "currency": "USD", "order_id": f"hubspot:{USD}"}
    entries = ledger(warehouse, "checkout")
    warnings = {deal_id: entries[keys[deal_id]]["data_warning"] for deal_id in (USD, COMMA, DOLLAR, WORDS, NEGATIVE)}
    assert warnings == {
        USD: None,
        COMMA: "amount '1,200.50' is not a number: sent without value and currency",
        DOLLAR: "amount '$300' is not a number: sent without value and currency",
        WORDS: "amount 'call me' is not a number: sent without value and currency",
        NEGATIVE: "amount '-50' is negative: sent without value and currency",
    }
    for deal_id in (COMMA, DOLLAR, WORDS, NEGATIVE):
        assert events[keys[deal_id]]["custom_data"] == {"order_id": f"hubspot:{deal_id}"}
        assert entries[keys[deal_id]]["state"] == "sent"
    no_time = entries[keys[NO_WON_TIME]]
    assert (no_time["state"], no_time["reason"], no_time["deal_id"]) == ("skipped", "no_won_time", NO_WON_TIME)
    assert "without a won time" in no_time["error_message"]


GOOGLE_WON, PAID_WON = 2201, 2202


def test_an_hourly_run_decides_only_what_changed_and_other_channels_are_final_until_their_deal_changes(
    pipeline_of, warehouse
) -> None:
    pipeline = pipeline_of(
        [deal(GOOGLE_WON, "2025-06-01", won="2025-06-28", utm_source="google", contacts=(6001,)),
         paid(PAID_WON, "2025-06-01", won="2025-06-28", contacts=(6001,))],
        [contact(6001)],
    )  # fmt: skip
    first = pipeline.capi()
    # the leads: the Google deal's is of a channel not sent, the other too old (created on 1 June)
    assert (first["sent"], first["skipped_by_reason"]) == (1, {"channel_not_configured": 2, "too_old": 1})
    decided = ledger(warehouse)[f"won_hubspot:{GOOGLE_WON}"]

    quiet = pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))

    assert (quiet["processed"], quiet["requests"]) == (0, 0), "nothing changed: nothing is decided again"
    assert ledger(warehouse)[f"won_hubspot:{GOOGLE_WON}"]["updated_at"] == decided["updated_at"]

    pipeline.mutate(f"deals/{GOOGLE_WON}/update", {"properties": {"utm_source": "pinterest"}})  # now organic
    pipeline.extract_changes()
    changed = pipeline.capi(MIDNIGHT + dt.timedelta(hours=2))

    assert (changed["processed"], changed["skipped_by_reason"]) == (2, {"channel_not_configured": 2})  # and its lead
    entry = ledger(warehouse)[f"won_hubspot:{GOOGLE_WON}"]
    assert entry["updated_at"] > decided["updated_at"] and "pinterest_organic" in entry["error_message"]
    assert pipeline.capi(MIDNIGHT + dt.timedelta(hours=3))["processed"] == 0


def test_the_dag_reads_pinterests_score_of_what_it_sent_once_per_day(pipeline, warehouse) -> None:
    """pinterest_capi's read_event_quality, after send_conversions: the sandbox scores the 4 checkouts sent (all
    Pinterest-paid with a click id; 3 with an email, IP_ONLY has no contact), and the next hourly run replaces the
    day's read instead of adding one."""
    warehouse.execute("TRUNCATE raw.pinterest_event_quality CASCADE")

    pipeline.capi()
    pipeline.capi(MIDNIGHT + dt.timedelta(hours=1))

    reads = warehouse.execute(
        "SELECT ad_account_id, read_day, lookback_period, ingestion_source, source_platform, overall_status "
        "FROM raw.pinterest_event_quality"
    ).fetchall()
    assert reads == [(ACCOUNT_ID, MIDNIGHT.date(), "14d", "CONVERSIONS_API", "OFFLINE", "FAIR")]
    coverage = dict(
        warehouse.execute(
            "SELECT quality_key, coverage FROM raw.pinterest_event_quality_keys WHERE event_type = 'checkout'"
        ).fetchall()
    )
    assert (coverage["click_id_epik"], coverage["hashed_email"], coverage["order_id"]) == (100, 75, 100)
    assert warehouse.execute("SELECT count(*) FROM raw.pinterest_event_quality_keys").fetchone()[0] == 11
