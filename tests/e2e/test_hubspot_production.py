"""``hubspot_deals`` under a real scheduler: a scheduler stopped for 3 hours and a failed run lose no deal, and
manual triggers without a logical date (with and without conf) succeed and load the warehouse.

The deployment runs the DAG every minute (so a "next run" comes within the test) with a 5 s search-index wait.
"""

from __future__ import annotations

import datetime as dt
import json
import time

import httpx
import pytest

from tests.e2e.conftest import AirflowDeployment

DAG_ID = "hubspot_deals"


@pytest.fixture(scope="module")
def e2e_env() -> dict[str, str]:
    return {"PIN2DEAL_HUBSPOT_DEALS_SCHEDULE": "* * * * *", "PIN2DEAL_HUBSPOT_SEARCH_LAG_SECONDS": "5"}


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _add_deals(server, first_id: int, moments: list[dt.datetime]) -> list[int]:
    deals = [
        {"id": str(first_id + n), "createdAt": _iso(at), "updatedAt": _iso(at), "archived": False,
         "properties": {"dealname": f"e2e {n}", "amount": "100", "pipeline": "default", "dealstage": "qualified",
                        "createdate": _iso(at), "hs_lastmodifieddate": _iso(at)}}
        for n, at in enumerate(moments)
    ]  # fmt: skip
    httpx.post(f"{server.url}/_sandbox/hubspot/deals", json={"deals": deals}).raise_for_status()
    return [int(deal["id"]) for deal in deals]


def _rotate_token(server, token: str) -> None:
    httpx.post(f"{server.url}/_sandbox/hubspot/token", json={"token": token}).raise_for_status()


def _loaded(warehouse, ids: list[int]) -> set[int]:
    rows = warehouse.execute("SELECT deal_id FROM raw.hubspot_deals WHERE deal_id = ANY(%s)", (ids,))
    return {row[0] for row in rows}


def _wait_for(deployment: AirflowDeployment, run_type: str, state: str, count: int, timeout: float = 240) -> list:
    deadline = time.monotonic() + timeout
    while True:
        runs = deployment.query(
            "SELECT run_id, state FROM dag_run WHERE dag_id = %s AND run_type = %s ORDER BY run_after", DAG_ID, run_type
        )
        if sum(1 for _, found in runs if found == state) >= count:
            return runs
        deployment._check_alive()
        assert time.monotonic() < deadline, f"no {count} {state} {run_type} runs in {timeout}s: {runs}"
        time.sleep(2)


@pytest.fixture(scope="module")
def fresh_hubspot(warehouse_url):
    import psycopg

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("TRUNCATE raw.hubspot_deals, raw.hubspot_deal_ids, raw.hubspot_deal_contacts, "
                     "raw.hubspot_contacts")
        conn.execute("DELETE FROM ops.watermarks WHERE source LIKE 'hubspot.%%'")


@pytest.mark.slow
def test_a_scheduler_stopped_3_hours_and_a_failed_run_lose_no_deal(
    airflow_deployment: AirflowDeployment, e2e_world, warehouse, fresh_hubspot
) -> None:
    deployment = airflow_deployment
    deployment.wait_for_dag(DAG_ID)
    now = dt.datetime.now(dt.UTC)
    # The scheduler stopped 3 hours ago, after a run that completed its read: the mark it left.
    stopped = now - dt.timedelta(hours=3)
    warehouse.execute(
        "INSERT INTO ops.watermarks (source, scope, position, completed) "
        "VALUES ('hubspot.deals', 'high_water_mark', %s, true)",
        (json.dumps({"read_to": stopped.isoformat()}),),
    )
    downtime = _add_deals(e2e_world, 9_100_000_000, [now - dt.timedelta(minutes=m) for m in (175, 120, 61, 30)])
    recent = _add_deals(e2e_world, 9_200_000_000, [now - dt.timedelta(seconds=s) for s in (100, 50, 2)])
    # The restarted scheduler's first run fails: the private app's token was rotated, the connection not yet.
    token = e2e_world.app.state.sandbox.dataset.config["hubspot_token"]
    _rotate_token(e2e_world, "pat-na1-rotated")
    deployment.cli("dags", "unpause", DAG_ID)
    try:
        _wait_for(deployment, "scheduled", "failed", 1)
        assert _loaded(warehouse, downtime + recent) == set()
        _rotate_token(e2e_world, token)  # the connection is fixed

        _wait_for(deployment, "scheduled", "success", 1)
    finally:
        deployment.cli("dags", "pause", DAG_ID)

    assert _loaded(warehouse, downtime + recent) == set(downtime + recent), "every deal of the 3 hours and the failure"
    mark = warehouse.execute(
        "SELECT (position ->> 'read_to')::timestamptz FROM ops.watermarks "
        "WHERE source = 'hubspot.deals' AND scope = 'high_water_mark'"
    ).fetchone()[0]
    assert mark > now - dt.timedelta(minutes=2)


@pytest.mark.slow
def test_manual_triggers_without_a_logical_date_succeed_and_load_the_warehouse(
    airflow_deployment: AirflowDeployment, e2e_world, warehouse, fresh_hubspot
) -> None:
    deployment = airflow_deployment
    deployment.wait_for_dag(DAG_ID)
    fresh = _add_deals(e2e_world, 9_400_000_000, [dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)])
    deployment.cli("dags", "unpause", DAG_ID)
    try:
        deployment.cli("dags", "trigger", DAG_ID)  # no --logical-date: a run without a data interval
        _wait_for(deployment, "manual", "success", 1)
        assert _loaded(warehouse, fresh) == set(fresh)

        deployment.cli("dags", "trigger", DAG_ID, "--conf", '{"full_refresh": true}')
        runs = _wait_for(deployment, "manual", "success", 2)
    finally:
        deployment.cli("dags", "pause", DAG_ID)

    assert [state for _, state in runs] == ["success", "success"]
    assert deployment.query(
        "SELECT count(*) FROM dag_run WHERE dag_id = %s AND run_type = 'manual' AND logical_date IS NULL", DAG_ID
    ) == [(2,)], "both runs were triggered without a logical date"
    world = e2e_world.app.state.hubspot.deals.records
    loaded = {row[0] for row in warehouse.execute("SELECT deal_id FROM raw.hubspot_deals")}
    assert loaded == {int(deal_id) for deal_id in world}, "the full refresh read every deal, archived included"
