"""Faults under a real scheduler: tests/e2e's deployment (api-server, scheduler and dag-processor processes, the
LocalExecutor, every task a process of its own writing its log file under Airflow's ``base_log_folder``), one per
module, shared by its rows. Each row ends with the invariants of tests/reliability/invariants.py, the leak check
reading the log files the scheduler's task processes wrote."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from sandbox.server import SandboxServer
from tests.e2e import conftest as e2e
from tests.reliability import invariants
from tests.reliability.conftest import issued_tokens
from tests.reliability.world import iso_ms

# The e2e deployment and its world (module-scoped): one deployment for every row of this module.
airflow_deployment, e2e_world = e2e.airflow_deployment, e2e.e2e_world
DAGS = ("hubspot_deals", "pinterest_spend")
BACKFILL_DAYS = 2  # backfilled: the days today-3 and today-2; the scheduled run: today-1
LOOKBACK_DAYS = 3  # pinterest_spend's default: every run re-pulls its 3 days before, so the runs' days overlap


@pytest.fixture(scope="module")
def e2e_env() -> dict[str, str]:
    """Both extraction DAGs daily, so a backfilled day is one run of each, like the scheduled day; Airflow's default
    log level (INFO) whatever the test process inherited (scripts/demo.py, loaded by a UI test, sets WARNING), so
    the leak check reads everything a default deployment logs."""
    return {"PIN2DEAL_HUBSPOT_DEALS_SCHEDULE": "0 0 * * *", "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO"}


def _add_deals(server: SandboxServer, moments: list[dt.datetime]) -> dict[str, str]:
    """A deal modified at each moment, each with a contact (an e-mail and a phone number to leak); returns the
    contacts' e-mails and phones by contact id."""
    deals, contacts = [], []
    for n, at in enumerate(moments):
        deal_id, contact_id = 9_300_000_000 + n, 8_300_000_000 + n
        stamp = iso_ms(at)
        contacts.append({
            "id": str(contact_id), "createdAt": stamp, "updatedAt": stamp, "archived": False,
            "properties": {"email": f"backfill.buyer{n}@overlap-customer.example", "phone": f"+1 415 555 {1000 + n}",
                           "createdate": stamp, "lastmodifieddate": stamp},
        })  # fmt: skip
        deals.append({
            "id": str(deal_id), "createdAt": stamp, "updatedAt": stamp, "archived": False,
            "associations": {"contacts": [str(contact_id)]},
            "properties": {"dealname": f"overlap {n}", "amount": "250", "pipeline": "default",
                           "dealstage": "qualifiedtobuy", "createdate": stamp, "hs_lastmodifieddate": stamp},
        })  # fmt: skip
    httpx.post(f"{server.url}/_sandbox/hubspot/deals", json={"deals": deals, "contacts": contacts}).raise_for_status()
    return {c["id"]: (c["properties"]["email"], c["properties"]["phone"]) for c in contacts}


def _expected(server: SandboxServer, deals_from: dt.datetime, deals_to: dt.datetime, days: set[dt.date], added):
    """What the runs must leave in raw: the live deals modified in ``[deals_from, deals_to)`` and their contacts,
    every ad-day of ``days``; secrets and personal data of the world, the added contacts' included."""
    sandbox, hubspot = server.app.state.sandbox, server.app.state.hubspot
    expected = invariants.expected_from(sandbox.dataset)
    low, high = int(deals_from.timestamp() * 1000), int(deals_to.timestamp() * 1000)
    expected.deal_ids = {r.key for r in hubspot.deals.records.values() if not r.archived and low <= r.modified < high}
    linked = {contact for deal in expected.deal_ids for contact in hubspot.deal_contacts.get(str(deal), [])}
    expected.contact_ids = {int(contact) for contact in linked if contact in hubspot.contacts.records}
    wanted = {day.isoformat() for day in days}
    expected.ad_days = {(row["AD_ID"], row["DATE"]) for row in sandbox.dataset.analytics if row["DATE"] in wanted}
    for email, phone in added.values():
        expected.emails.add(email)
        expected.phone_digits.add("".join(char for char in phone if char.isdigit()))
    return expected


def _mark(warehouse: psycopg.Connection) -> dt.datetime:
    return warehouse.execute(
        "SELECT (position ->> 'read_to')::timestamptz FROM ops.watermarks "
        "WHERE source = 'hubspot.deals' AND scope = 'high_water_mark'"
    ).fetchone()[0]


@pytest.mark.slow
def test_the_scheduler_outlives_another_session_holding_its_pool_rows(
    airflow_deployment: e2e.AirflowDeployment,
) -> None:
    """Each scheduler loop locks the pool rows NOWAIT and skips the loop when another session holds them (``airflow
    pools set``, a second scheduler). Airflow 3.3 recognises that error by the driver's ``pgcode``, which psycopg 3's
    errors lack: with the metadata database on ``postgresql+psycopg://`` the scheduler exited instead (seen in CI,
    the backfill test's ``pools set`` meeting a loop). The deployment's driver must be one it recognises."""
    deployment = airflow_deployment
    deployment.wait_for_dag(DAGS[0])
    with psycopg.connect(deployment.metadata_url) as conn:
        assert conn.execute("SELECT pool FROM slot_pool FOR UPDATE").fetchall()
        time.sleep(8)  # the 1-second scheduler heartbeat: several loops meet the held rows
    time.sleep(2)
    exited = [(process.args, process.returncode) for process in deployment.processes if process.poll() is not None]
    assert not exited, f"{exited}; see {deployment.home}"


@pytest.mark.slow
def test_a_backfill_overlapping_the_schedule_under_a_real_scheduler_loads_everything_once(
    airflow_deployment: e2e.AirflowDeployment, e2e_world: SandboxServer, warehouse: psycopg.Connection
) -> None:
    """``airflow backfill create`` of two days of both extraction DAGs, queued while the DAGs are paused; unpausing
    starts the scheduled run of yesterday next to them: two runs of the same DAG at once, each re-reading what the
    others read (HubSpot: the scheduled run reads from the mark, two days back; Pinterest: every run's lookback).
    The pools are widened to 2 slots (shipped: 1) so the runs' API tasks overlap too. Pinterest's access token is
    expired first: the runs that meet it refresh it once between them."""
    deployment, server = airflow_deployment, e2e_world
    today = server.app.state.sandbox.today
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    first = today - dt.timedelta(days=BACKFILL_DAYS + 1)
    # The last completed read ended two days ago: the scheduled run re-reads the second backfilled day.
    mark = midnight - dt.timedelta(days=2)
    warehouse.execute(
        "INSERT INTO ops.watermarks (source, scope, position, completed) VALUES "
        "('hubspot.deals', 'high_water_mark', %s, true)",
        (json.dumps({"read_to": mark.isoformat()}),),
    )
    # Deals modified every 5 hours from the day before the backfill (read by no run) to yesterday, and one today
    # (after every run's end: loaded by none).
    moments = [midnight + dt.timedelta(hours=h, minutes=7) for h in range(-24 * (BACKFILL_DAYS + 2), 0, 5)]
    added = _add_deals(server, [*moments, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)])
    httpx.post(f"{server.url}/_sandbox/pinterest/expire-token").raise_for_status()
    refreshes_before = server.app.state.pinterest.tokens.refreshes
    for pool in ("hubspot_api", "pinterest_api"):
        deployment.cli("pools", "set", pool, "2", "widened: overlapping runs' API tasks at once")

    for dag_id in DAGS:
        deployment.wait_for_dag(dag_id)
        deployment.cli(
            "backfill", "create", "--dag-id", dag_id, "--from-date", first.isoformat(),
            "--to-date", (first + dt.timedelta(days=BACKFILL_DAYS - 1)).isoformat(),
        )  # fmt: skip
    try:
        for dag_id in DAGS:
            deployment.cli("dags", "unpause", dag_id)
        runs = {
            (dag_id, kind): deployment.wait_for_runs(dag_id, kind, count, timeout=900)
            for dag_id in DAGS
            for kind, count in (("backfill", BACKFILL_DAYS), ("scheduled", 1))
        }
    finally:
        for dag_id in DAGS:
            deployment.cli("dags", "pause", dag_id)

    for (dag_id, kind), found in runs.items():
        assert [state for _, state in found] == ["success"] * len(found), (dag_id, kind, found)
    for dag_id in DAGS:  # the scheduled run ran while a backfill run of the same DAG did
        spans = deployment.query(
            "SELECT run_type, start_date, end_date FROM dag_run WHERE dag_id = %s AND run_type IN "
            "('backfill', 'scheduled')", dag_id,
        )  # fmt: skip
        scheduled = [(start, end) for kind, start, end in spans if kind == "scheduled"]
        backfill = [(start, end) for kind, start, end in spans if kind == "backfill"]
        assert any(s < e2 and s2 < e for s, e in scheduled for s2, e2 in backfill), (dag_id, spans)

    # The backfill left the mark alone: the scheduled run moved it to its interval's end, and nothing moved it back.
    assert _mark(warehouse) == midnight
    marks = {  # each extraction's return value says where the mark stood after it
        run_id: dt.datetime.fromisoformat((json.loads(value) if isinstance(value, str) else value)["read_to"])
        for run_id, value in deployment.query(
            "SELECT run_id, value FROM xcom WHERE dag_id = 'hubspot_deals' AND task_id = 'extract_hubspot_deals' "
            "AND key = 'return_value'"
        )
    }
    assert sorted(run_id.split("__")[0] for run_id in marks) == ["backfill"] * BACKFILL_DAYS + ["scheduled"], marks
    assert all(after in (mark, midnight) for run_id, after in marks.items() if run_id.startswith("backfill")), marks
    assert [after for run_id, after in marks.items() if run_id.startswith("scheduled")] == [midnight], marks
    assert server.app.state.pinterest.tokens.refreshes - refreshes_before == 1, "the expired token: one refresh"
    # Days pulled: each run's day and the lookback before it (backfilled: today-6..today-2; scheduled: -4..-1).
    days = {first - dt.timedelta(days=LOOKBACK_DAYS - n) for n in range(LOOKBACK_DAYS + BACKFILL_DAYS + 1)}
    expected = _expected(server, dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC), midnight, days, added)
    expected.secrets |= set(issued_tokens(server))
    assert len(expected.deal_ids) >= 15 and expected.ad_days, "the windows hold deals and ad-days"
    deleted = warehouse.execute("SELECT count(*) FROM raw.pinterest_ad_daily_deleted").fetchone()[0]
    assert deleted == 0, "no run deleted an ad-day another run had loaded"

    texts = invariants.deployment_texts(deployment.home, deployment.metadata_url)
    task_logs = [where for where in texts if where.startswith("log file dag_id=")]
    assert len(task_logs) >= 2 * 3 + 6 * 3, task_logs  # a log file per task instance: 2 + 6 tasks x 3 runs
    assert any("Pinterest spend of ad account" in texts[where] for where in task_logs), "the tasks' own log lines"
    problems = invariants.check_raw_counts(warehouse, expected) + invariants.find_leaks(
        {**texts, **invariants.warehouse_texts(warehouse)}, expected
    )
    assert not problems, "invariants violated:\n" + "\n".join(problems[:40])

    # The checker reads those files: a token written into one of them is reported, naming the file.
    planted = Path(deployment.home, "logs", task_logs[0].removeprefix("log file "))
    original = planted.read_text(encoding="utf-8")
    token = server.app.state.sandbox.dataset.config["hubspot_token"]
    planted.write_text(original + json.dumps({"event": f"GET /crm/v3 Authorization: Bearer {token}"}) + "\n")
    try:
        leaks = invariants.find_leaks(invariants.deployment_texts(deployment.home, deployment.metadata_url), expected)
    finally:
        planted.write_text(original, encoding="utf-8")
    assert leaks == [f"{task_logs[0]}: contains a secret ({token[:6]}...)"], leaks
