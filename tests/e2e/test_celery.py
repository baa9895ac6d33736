"""The whole pipeline on the distributed engine: CeleryExecutor, Redis (Debian's redis-server, started and stopped
here like the local PostgreSQL), two `airflow celery worker` processes. A CLI backfill of both extraction DAGs, then
the reconcile and, through its Asset, the conversions and the briefing: every run succeeds with its tasks spread
over both workers, so no task relies on another task's process memory. A tiny world on a warehouse of the module's
own (tests/e2e/conftest.py), like the LocalExecutor pipeline test."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from sandbox.connections import airflow_connections
from sandbox.server import SandboxServer
from scripts.airflow_local import AirflowDeployment, airflow_env, drop_database, free_port
from tests.e2e.conftest import EXTRACTION_DAGS, FAST_ENV, backfill_extractions, metadata_database, runs_of, settle

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
WORKERS = ("worker-1", "worker-2")
DOWNSTREAM = ("attribution_reconcile", "pinterest_capi", "daily_briefing")

if not os.path.exists(REDIS):
    if os.environ.get("CI"):
        raise RuntimeError("CI must run the Celery e2e test: install Debian's redis-server")
    pytest.skip("the Celery e2e test needs Debian's redis-server (apt-get install -y redis-server); skipped",
                allow_module_level=True)  # fmt: skip


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on a free loopback port, no persistence; stopped after the module."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=(workdir / "redis.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    ping = ["redis-cli", "-p", str(port), "ping"]
    while subprocess.run(ping, capture_output=True, text=True, check=False).stdout.strip() != "PONG":
        assert process.poll() is None and time.monotonic() < deadline, f"redis-server did not start; see {workdir}"
        time.sleep(0.2)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def celery_deployment(
    warehouse_url: str,
    own_warehouse_url: str,
    tiny_world: SandboxServer,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AirflowDeployment]:
    home = tmp_path_factory.mktemp("airflow-celery")
    database, metadata_url = metadata_database(warehouse_url, "airflow_celery")
    connections = airflow_connections(tiny_world.url, tiny_world.app.state.sandbox.dataset.config)
    env = airflow_env(home, metadata_url, own_warehouse_url, connections, free_port())
    env.update(
        {
            **FAST_ENV,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": redis_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url.replace("postgresql://", "postgresql+psycopg://"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "PIN2DEAL_HUBSPOT_DEALS_SCHEDULE": "0 0 * * *",  # daily runs: a backfilled day is one run of each DAG
            "PIN2DEAL_BRIEFING_DIR": str(home / "briefings"),
        }
    )
    deployment = AirflowDeployment(home, env, metadata_url)
    deployment.start(("api-server", "scheduler", "dag-processor"))
    for name in WORKERS:
        deployment.spawn(
            name,
            ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1", "--skip-serve-logs"],
            # Each worker names itself in the task instances it runs (one machine: one host name).
            env={"PIN2DEAL_WORKER_NAME": name, "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.e2e.worker_name.worker_name"},
        )
    try:
        yield deployment
    finally:
        deployment.stop(grace=10)
        drop_database(warehouse_url, database)


@pytest.mark.slow
def test_the_whole_pipeline_succeeds_with_its_tasks_spread_over_two_celery_workers(
    celery_deployment: AirflowDeployment, tiny_world: SandboxServer
) -> None:
    deployment = celery_deployment
    deployment.wait_for_dags((*EXTRACTION_DAGS, *DOWNSTREAM))
    yesterday = tiny_world.app.state.sandbox.today - dt.timedelta(days=1)
    started = dt.datetime.now(dt.UTC)
    backfill_extractions(deployment, yesterday, yesterday)  # one day: the runs' tasks are what is spread
    # The reconcile on the backfilled days; its Asset starts the conversions and the briefing.
    deployment.unpause(*DOWNSTREAM)
    deployment.api("POST", "/api/v2/dags/attribution_reconcile/dagRuns", json={"logical_date": None})
    settle(deployment, started, DOWNSTREAM)

    runs = runs_of(deployment)
    assert {dag_id for dag_id, _, _ in runs} == {*EXTRACTION_DAGS, *DOWNSTREAM}, runs
    assert all(state == "success" for _, _, state in runs), runs
    assert ("pinterest_capi", "asset_triggered", "success") in runs, runs
    assert ("daily_briefing", "asset_triggered", "success") in runs, runs
    ran = deployment.query("SELECT hostname, dag_id, count(*) FROM task_instance WHERE state = 'success' "
                           "GROUP BY hostname, dag_id")  # fmt: skip
    assert {hostname for hostname, _, _ in ran} == set(WORKERS), ran  # nothing ran anywhere else
    for worker in WORKERS:
        dags = {dag_id for hostname, dag_id, _ in ran if hostname == worker}
        assert len(dags) >= 3, f"{worker} ran tasks of {sorted(dags)} only: {ran}"
    # The reconcile's one run (17 tasks in a chain) went back and forth between the workers.
    reconcile_hosts = {hostname for hostname, dag_id, _ in ran if dag_id == "attribution_reconcile"}
    assert reconcile_hosts == set(WORKERS), ran
