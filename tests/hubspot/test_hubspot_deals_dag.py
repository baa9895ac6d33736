"""The ``hubspot_deals`` DAG, run for real against the sandbox and the warehouse: complete past the search cap,
idempotent, resumable after a kill, and faithful to merges, archives, migrations and association changes."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
from deal_worlds import CUSTOM, FAST, HOUR, HOUR_MS, contact, deal, hubspot_connection

ROOT = Path(__file__).resolve().parents[2]
NEXT_HOUR = HOUR + dt.timedelta(hours=1)  # a manual run at this logical date extracts [HOUR, NEXT_HOUR)
END_MS = HOUR_MS + 3_600_000


def table_state(conn: psycopg.Connection) -> dict[str, tuple]:
    """Row counts and the latest change of each HubSpot table: a re-run that changes nothing keeps them."""
    return {
        table: conn.execute(f"SELECT count(*), max(loaded_at), max(xmin::text::bigint) FROM raw.{table}").fetchone()
        for table in ("hubspot_deals", "hubspot_contacts", "hubspot_deal_contacts")
    } | {"ids": conn.execute("SELECT count(*), max(first_seen_at) FROM raw.hubspot_deal_ids").fetchone()}


def test_25000_deals_in_one_interval_past_the_cap_arrive_exactly_once_and_a_rerun_changes_nothing(
    hubspot_world, run_dag, warehouse
) -> None:
    # 14,500 deals spread over the hour (pairs share an instant), 10,500 more on ONE instant (a bulk import):
    # far past the 10,000 results one search query can return, and one instant past it on its own.
    # Every tenth deal has a contact: the contact path is exercised without dominating the run time.
    def contacts(n: int) -> list[int]:
        return [50_000 + n % 2500] if n % 10 == 0 else []

    spread = [deal(1_000_000 + n, HOUR_MS + (n // 2) * 240, contacts=contacts(n)) for n in range(14_500)]
    bulk_at = HOUR_MS + 1_800_000
    bulk = [deal(2_000_000 + n * 3, bulk_at, contacts=contacts(n)) for n in range(10_500)]
    edges = [deal(10, HOUR_MS - 1), deal(11, END_MS), deal(12, END_MS + 5_000)]  # outside [HOUR, NEXT_HOUR)
    hubspot_world(spread + bulk + edges, [contact(50_000 + n) for n in range(2500)])

    run_dag("hubspot_deals", NEXT_HOUR)

    expected = {int(d["id"]) for d in spread + bulk}
    loaded = {row[0] for row in warehouse.execute("SELECT deal_id FROM raw.hubspot_deals")}
    assert loaded == expected
    associations = {(int(d["id"]), int(c)) for d in spread + bulk for c in d["associations"]["contacts"]}
    assert len(associations) == 2500
    loaded_associations = warehouse.execute("SELECT deal_id, contact_id FROM raw.hubspot_deal_contacts").fetchall()
    assert set(loaded_associations) == associations
    assert warehouse.execute("SELECT count(*) FROM raw.hubspot_contacts").fetchone()[0] == len(
        {contact for _, contact in associations}
    )
    assert warehouse.execute(
        "SELECT completed FROM ops.watermarks WHERE source = 'hubspot.deals' AND scope = %s",
        (f"{HOUR.isoformat()}/{NEXT_HOUR.isoformat()}",),
    ).fetchone() == (True,)
    before = table_state(warehouse)

    run_dag("hubspot_deals", NEXT_HOUR)

    assert table_state(warehouse) == before


def test_a_killed_run_resumes_from_its_watermark_and_loses_nothing(
    hubspot_world, run_dag, warehouse, monkeypatch
) -> None:
    deals = [deal(300_000 + n, HOUR_MS + n * 500, contacts=[7000 + n % 50]) for n in range(3000)]
    server = hubspot_world(deals, [contact(7000 + n) for n in range(50)], extra={"search_per_second": 4})
    scope = f"{HOUR.isoformat()}/{NEXT_HOUR.isoformat()}"
    # The task runs in its own process, slowed by a small search budget, and is SIGKILLed mid-interval.
    script = (
        "import datetime as dt\n"
        "from pin2deal.operators.hubspot_deals import HubSpotDealsToWarehouseOperator as Op\n"
        f"Op(task_id='t', data_interval_start={HOUR.isoformat()!r}, data_interval_end={NEXT_HOUR.isoformat()!r},"
        " full_refresh=False, since=None, run_type='scheduled', run_after=None, batch_size=200)"
        ".execute({'run_id': 'killed'})\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}
    worker = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            row = warehouse.execute(
                "SELECT position FROM ops.watermarks WHERE source = 'hubspot.deals' AND scope = %s", (scope,)
            ).fetchone()
            if row and row[0].get("from_ms", 0) >= HOUR_MS + 600 * 500:  # 600+ deals committed
                break
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    loaded_before = warehouse.execute("SELECT count(*) FROM raw.hubspot_deals").fetchone()[0]
    assert 0 < loaded_before < 3000
    # A deal the killed run already committed changes without moving its modified date: a resumed run does not
    # re-read committed pages, so the row keeps the old value (a restart from the interval's start would not).
    committed = warehouse.execute("SELECT min(deal_id) FROM raw.hubspot_deals").fetchone()[0]
    httpx.post(
        f"{server.url}/_sandbox/hubspot/deals/{committed}/update",
        json={"properties": {"amount": "999"}, "bumpModified": False},
    ).raise_for_status()
    monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_connection(server.url, search_per_second=10_000))

    run_dag("hubspot_deals", NEXT_HOUR)

    rows = warehouse.execute("SELECT deal_id, run_id FROM raw.hubspot_deals").fetchall()
    assert sorted(deal_id for deal_id, _ in rows) == [300_000 + n for n in range(3000)]
    assert {run_id for _, run_id in rows if run_id == "killed"}, "the killed run's committed pages were kept"
    assert warehouse.execute(
        "SELECT amount FROM raw.hubspot_deals WHERE deal_id = %s", (committed,)
    ).fetchone()[0] == 1200.50
    assert warehouse.execute("SELECT count(*) FROM raw.hubspot_deal_contacts").fetchone()[0] == 3000


def _mutate(server, path: str, body: dict) -> dict:
    response = httpx.post(f"{server.url}/_sandbox/hubspot/{path}", json=body)
    response.raise_for_status()
    return response.json()


def _links(conn: psycopg.Connection, deal_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT contact_id FROM raw.hubspot_deal_contacts WHERE deal_id = %s ORDER BY contact_id", (deal_id,)
    )
    return [row[0] for row in rows]


def test_associations_merges_archives_and_migrations(hubspot_world, run_dag, warehouse) -> None:
    deals = [deal(n, HOUR_MS + n * 1000, contacts=[100 + n]) for n in range(1, 7)]
    server = hubspot_world(deals, [contact(100 + n) for n in range(1, 8)])
    run_dag("hubspot_deals", NEXT_HOUR)
    assert _links(warehouse, 1) == [101]

    # Deal 1: only its contacts change (HubSpot does not move its modified date). Deal 2: contacts and a property.
    _mutate(server, "deals/1/associations", {"contacts": [107]})
    _mutate(server, "deals/2/associations", {"contacts": [107]})
    later = str(END_MS + 60_000)
    _mutate(server, "deals/2/update", {"properties": {"amount": "10"}, "modifiedAt": later})
    run_dag("hubspot_deals", NEXT_HOUR + dt.timedelta(hours=1))
    assert _links(warehouse, 2) == [107]
    assert _links(warehouse, 1) == [101], "documented limit: an association-only change is not searchable"

    # Merge 4 into 3, archive 5, migrate 6 to a new id (old id kept in the legacy property); all happen "now"
    # on the sandbox clock, so the run reads them with `since` the sandbox's today.
    _mutate(server, "deals/merge", {"primaryObjectId": "3", "objectIdToMerge": "4"})
    _mutate(server, "deals/5/archive", {})
    new_id = int(_mutate(server, "deals/re-id", {"ids": ["6"]})["ids"]["6"])
    today = server.app.state.sandbox.today
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    run_dag("hubspot_deals", tomorrow, conf={"since": today.isoformat()})

    deal_rows = {row[0]: row[1:] for row in warehouse.execute(
        "SELECT deal_id, merged_object_ids, merged_into_deal_id, archived, legacy_deal_id FROM raw.hubspot_deals"
    )}  # fmt: skip
    assert deal_rows[3][0] == [4] and deal_rows[4][1] == 3, "merged deal marked, kept"
    assert _links(warehouse, 3) == [103, 104]
    assert deal_rows[new_id][3] == "6"
    keys = dict(warehouse.execute("SELECT alias_id, stable_key FROM raw.hubspot_deal_ids").fetchall())
    # The search cannot tell deal 6 is gone, HubSpot can: asked when its re-created deal arrived, it answered that 6
    # no longer exists, so 6 is marked deleted and its successor takes its lineage without waiting for a sweep.
    assert keys[f"hubspot:{new_id}"] == keys["legacy:6"] == keys["hubspot:6"] == "hubspot:6"
    assert warehouse.execute("SELECT deleted_at IS NOT NULL FROM raw.hubspot_deals WHERE deal_id = 6").fetchone() == (
        True,
    )
    assert keys["hubspot:4"] == keys["hubspot:3"] == "hubspot:3", "a merge of known deals keeps the survivor's key"
    assert deal_rows[5][2] is False  # search never returns archived deals

    run_dag("hubspot_deals", tomorrow, conf={"full_refresh": True})

    archived = dict(warehouse.execute("SELECT deal_id, archived FROM raw.hubspot_deals").fetchall())
    assert archived[5] is True, "archived deal marked, kept"
    assert _links(warehouse, 1) == [107], "full_refresh picks up association-only changes"
    assert set(archived) == {1, 2, 3, 4, 5, 6, new_id}, "nothing is deleted"
    # The full listing no longer has deal 6: it is marked deleted, and its successor takes over its lineage.
    assert warehouse.execute("SELECT deleted_at IS NOT NULL FROM raw.hubspot_deals WHERE deal_id = 6").fetchone() == (
        True,
    )
    keys = dict(warehouse.execute("SELECT alias_id, stable_key FROM raw.hubspot_deal_ids").fetchall())
    assert keys[f"hubspot:{new_id}"] == keys["legacy:6"] == keys["hubspot:6"] == "hubspot:6", "a migration keeps keys"


def test_bad_records_are_loaded_and_flagged_with_field_and_reason(hubspot_world, run_dag, warehouse) -> None:
    entered = "2025-06-08T10:00:00.000Z"
    won = {"dealstage": "closedwon", "hs_is_closed_won": "true", "hs_v2_date_entered_closedwon": entered}
    deals = [
        deal(1, HOUR_MS, amount="1,250.00 USD"),
        deal(2, HOUR_MS + 1, amount="TBD"),
        deal(3, HOUR_MS + 2, deal_currency_code="XYZ"),
        deal(4, HOUR_MS + 3, closedate=None, **won),
        deal(5, HOUR_MS + 4, epik=" dj0yJnU9YWJj"),
        deal(6, HOUR_MS + 5, epik="dj0yJnU9YWJj%3D%3D"),
        deal(7, HOUR_MS + 6, epik="dj0yJnU9YWJj==", closedate="1749549600000", utm_source="pinterest", **won),
        deal(8, HOUR_MS + 7, contacts=[20, 21]),
    ]
    contacts = [contact(20, phone="ask for Mike", email="not an email"), contact(21, phone="+33 1 99 00 12 34")]
    server = hubspot_world(deals, contacts)

    run_dag("hubspot_deals", NEXT_HOUR)

    assert warehouse.execute("SELECT count(*) FROM raw.hubspot_deals").fetchone()[0] == 8
    issues = set(warehouse.execute("SELECT source, record_key, field, reason, raw_value FROM ops.record_issues"))
    epik = CUSTOM["epik"]
    assert issues == {
        ("hubspot.deal", "1", "amount", "not a number", "1,250.00 USD"),
        ("hubspot.deal", "2", "amount", "not a number", "TBD"),
        ("hubspot.deal", "3", "deal_currency_code", "not an ISO 4217 currency code", "XYZ"),
        ("hubspot.deal", "5", epik, "contains whitespace", " dj0yJnU9YWJj"),
        ("hubspot.deal", "6", epik, "URL-encoded (contains %XX escapes)", "dj0yJnU9YWJj%3D%3D"),
        ("hubspot.contact", "20", "email", "not an email address", None),  # raw PII stays out of ops
        ("hubspot.contact", "20", "phone", "not a phone number", None),
    }
    rows = {row[0]: row[1:] for row in warehouse.execute(
        "SELECT deal_id, amount, amount_raw, currency, hs_is_closed_won, stage_entered_at, epik, epik_raw"
        " FROM raw.hubspot_deals"
    )}  # fmt: skip
    assert rows[1][:2] == (None, "1,250.00 USD"), "an unparsable amount is kept raw, not turned into 0"
    assert rows[3][2] is None
    # Raw keeps HubSpot's facts typed; whether a deal is won (and when) is decided by the reconcile's SQL.
    assert rows[4][3] is True and rows[4][4] == {"closedwon": "2025-06-08T10:00:00+00:00"}
    assert rows[5][5:] == (None, " dj0yJnU9YWJj")
    assert rows[7][3:6] == (True, {"closedwon": "2025-06-08T10:00:00+00:00"}, "dj0yJnU9YWJj==")
    phones = dict(warehouse.execute("SELECT contact_id, phone_e164 FROM raw.hubspot_contacts").fetchall())
    assert phones == {20: None, 21: "+33199001234"}
    stages = warehouse.execute(
        "SELECT stage_id FROM raw.hubspot_pipeline_stages WHERE is_closed_won ORDER BY stage_id"
    ).fetchall()
    assert stages == [("closedwon",)]

    # Fixing a record at the source clears its issue on the next load.
    _mutate(server, "deals/1/update", {"properties": {"amount": "1250.00"}, "modifiedAt": str(END_MS + 1)})
    run_dag("hubspot_deals", NEXT_HOUR + dt.timedelta(hours=1))
    assert warehouse.execute(
        "SELECT count(*) FROM ops.record_issues WHERE record_key = '1' AND source = 'hubspot.deal'"
    ).fetchone() == (0,)
    assert warehouse.execute("SELECT amount FROM raw.hubspot_deals WHERE deal_id = 1").fetchone() == (1250,)


def test_contact_roles_are_typed_for_matching_and_an_unusable_value_is_flagged_without_its_pii(
    hubspot_world, run_dag, warehouse
) -> None:
    """The address roles (HubSpot's standard properties) and gender / date of birth (mapped here) are typed the way
    the Conversions API matches them; a value that cannot be is NULL and named (contact + property), never stored
    in ops, and the rest of the contact loads."""
    roles = {**CUSTOM, "gender": "gender", "date_of_birth": "date_of_birth"}
    contacts = [
        contact(30, city=" São Paulo ", state="ca", zip="94105-1234", country="United States", gender="Female",
                date_of_birth="1990-04-12"),
        contact(31, city="Köln", state="Bavaria", zip="941", country="Narnia", gender="other",
                date_of_birth="12/04/1990"),
        contact(32, city="London", zip="SW1A 1AA", country="United Kingdom", phone="+44 20 7946 0018"),
    ]  # fmt: skip
    hubspot_world([deal(9, HOUR_MS, contacts=[30, 31, 32])], contacts, extra={"properties": roles, **FAST})

    run_dag("hubspot_deals", NEXT_HOUR)

    rows = {row[0]: row[1:] for row in warehouse.execute(
        "SELECT contact_id, city_normalized, state_code, zip_normalized, country_code, gender_code, birth_date,"
        " email_normalized FROM raw.hubspot_contacts"
    )}  # fmt: skip
    assert rows == {
        30: ("sãopaulo", "ca", "94105", "us", "f", dt.date(1990, 4, 12), "buyer30@example.com"),
        31: ("köln", None, None, None, None, None, "buyer31@example.com"),
        32: ("london", None, "sw1a1aa", "gb", None, None, "buyer32@example.com"),
    }
    issues = set(warehouse.execute("SELECT record_key, field, reason, raw_value FROM ops.record_issues"))
    assert issues == {
        ("31", "country", "not a country (an ISO 3166 code or a country name)", None),
        ("31", "state", "not a two-letter state code", None),  # read in the default region (US): Narnia is none
        ("31", "zip", "not a US ZIP code (5 digits, or ZIP+4)", None),
        ("31", "gender", "not a gender Pinterest knows (f, m or n: female, male, non-binary)", None),
        ("31", "date_of_birth", "not a date (YYYY-MM-DD)", None),
    }
