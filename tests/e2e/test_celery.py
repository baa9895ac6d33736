"""The pipeline on the distributed engine: CeleryExecutor, Redis (Debian's redis-server, started and stopped here
like the local PostgreSQL), two `airflow celery worker` processes. Runs succeed with their tasks spread over both
workers: no task relies on another task's process memory."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from sandbox.connections import airflow_connections
from scripts.airflow_local import AirflowDeployment, airflow_env, create_database, drop_database, free_port

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
WORKERS = ("worker-1", "worker-2")

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
    warehouse_url: str, e2e_world, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowDeployment]:
    home = tmp_path_factory.mktemp("airflow-celery")
    database = f"airflow_celery_{uuid.uuid4().hex[:8]}"
    metadata_url = create_database(warehouse_url, database)
    connections = airflow_connections(e2e_world.url, e2e_world.app.state.sandbox.dataset.config)
    env = airflow_env(home, metadata_url, warehouse_url, connections, free_port())
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": redis_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + metadata_url.replace("postgresql://", "postgresql+psycopg://"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
        }
    )
    deployment = AirflowDeployment(home, env, metadata_url)
    deployment.setup()
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
def test_extraction_runs_succeed_on_two_celery_workers(celery_deployment: AirflowDeployment, e2e_world) -> None:
    deployment = celery_deployment
    today = e2e_world.app.state.sandbox.today
    for dag_id in ("hubspot_deals", "pinterest_spend"):
        deployment.wait_for_dag(dag_id)
        deployment.cli("dags", "unpause", dag_id)
    first, last = today - dt.timedelta(days=3), today - dt.timedelta(days=2)
    deployment.cli(
        "backfill", "create", "--dag-id", "pinterest_spend", "--from-date", first.isoformat(),
        "--to-date", last.isoformat(), "--dag-run-conf", '{"lookback_days": 0}',
    )  # fmt: skip
    deployment.cli(
        "backfill", "create", "--dag-id", "hubspot_deals", "--from-date", f"{last.isoformat()}T10:00:00",
        "--to-date", f"{last.isoformat()}T11:00:00",
    )  # fmt: skip
    spend = deployment.wait_for_runs("pinterest_spend", "backfill", 2, timeout=300)
    deals = deployment.wait_for_runs("hubspot_deals", "backfill", 2, timeout=300)
    assert [state for _, state in spend + deals] == ["success"] * 4, (spend, deals)

    ran_on = dict(
        deployment.query(
            "SELECT hostname, count(*) FROM task_instance WHERE dag_id IN ('hubspot_deals', 'pinterest_spend') "
            "AND state = 'success' GROUP BY hostname"
        )
    )
    assert set(ran_on) == set(WORKERS), ran_on  # both workers ran tasks, and nothing ran anywhere else
