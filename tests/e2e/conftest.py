"""A real Airflow deployment for end-to-end tests (``scripts/airflow_local.py``, the one ``make ui`` runs): api-server,
scheduler and dag-processor processes with the LocalExecutor, metadata in its own database on the test PostgreSQL
server, the sandbox over loopback.

Fast: each deployment's metadata database is a copy of a migrated template (``metadata_database``: one
``airflow db migrate`` per server and Airflow version, not one per test module), and ``FAST_ENV`` parses the DAG
files once and polls often.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from sandbox.connections import airflow_connections
from sandbox.generate import generate
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from scripts.airflow_local import (
    AirflowDeployment,
    airflow_env,
    clone_metadata_database,
    create_database,
    drop_database,
    free_port,
)

__all__ = ["FAST_ENV", "AirflowDeployment", "backfill_extractions", "metadata_database", "runs_of", "settle"]

# Test deployments: the DAG files are parsed once (nothing edits them during a test) and the scheduler reacts within a
# second (airflow_env already keeps to one parsing process and few executor slots).
FAST_ENV = {
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "600",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    # An idle scheduler loops 4 times a second: a finished task's successor is queued within a quarter second, where
    # Airflow's default (1 s) adds a second to every link of a DAG's chain.
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
}


def metadata_database(server_url: str, prefix: str) -> tuple[str, str]:
    """A fresh, migrated Airflow metadata database with pin2deal's pools: (name, URL). Drop it with
    ``drop_database``."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return name, clone_metadata_database(server_url, name)


@pytest.fixture(scope="module")
def e2e_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """A small sandbox world whose clock is today, so the scheduler's own latest run is a valid one too.

    Its ad account reports UTC days, so a daily run's days are exactly its data interval's.
    """
    data = tmp_path_factory.mktemp("e2e-world")
    world = generate(data, deals=300, seed=11, today=dt.datetime.now(dt.UTC).date())
    world.config["timezone"] = "UTC"
    world.save(data)
    server = SandboxServer(SandboxSettings(data_dir=data)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def e2e_env() -> dict[str, str]:
    """Extra environment for the deployment's processes; a test module overrides it (e.g. a faster schedule)."""
    return {}


@pytest.fixture(scope="module")
def airflow_deployment(
    warehouse_url: str, e2e_world: SandboxServer, tmp_path_factory: pytest.TempPathFactory, e2e_env: dict[str, str]
) -> Iterator[AirflowDeployment]:
    home = tmp_path_factory.mktemp("airflow-e2e")
    database, metadata_url = metadata_database(warehouse_url, "airflow_e2e")
    connections = airflow_connections(e2e_world.url, e2e_world.app.state.sandbox.dataset.config)
    env = {**airflow_env(home, metadata_url, warehouse_url, connections, free_port()), **FAST_ENV, **e2e_env}
    deployment = AirflowDeployment(home, env, metadata_url)
    deployment.start(("api-server", "scheduler", "dag-processor"))
    try:
        yield deployment
    finally:
        deployment.stop()
        drop_database(warehouse_url, database)


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """The smallest world with Pinterest-paid deals to win (80 deals, no rate limits): every task's own work is a
    fraction of a second, so a whole-pipeline test measures Airflow, not the data. Its clock is today, its ad account
    reports UTC days."""
    data = tmp_path_factory.mktemp("tiny-world")
    world = generate(data, deals=80, seed=11, today=dt.datetime.now(dt.UTC).date())
    world.config["timezone"] = "UTC"
    world.save(data)
    server = SandboxServer(SandboxSettings(data_dir=data, rate_limits=False)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def own_warehouse_url(warehouse_url: str) -> Iterator[str]:
    """A warehouse database of the module's own, empty (the DAGs' migrate_warehouse tasks create its schema): what
    other tests left in the session's warehouse cannot leak into a whole-pipeline test (a full refresh, say, judges
    every deal the warehouse holds)."""
    name = f"pin2deal_e2e_{uuid.uuid4().hex[:8]}"
    yield create_database(warehouse_url, name)
    drop_database(warehouse_url, name)


@pytest.fixture
def own_warehouse(own_warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(own_warehouse_url, autocommit=True) as conn:
        yield conn


def runs_of(deployment: AirflowDeployment) -> list[tuple]:
    """(dag_id, run_type, state) of every run, for assertions and their messages."""
    return deployment.query("SELECT dag_id, run_type, state FROM dag_run ORDER BY dag_id, id")


def settle(deployment: AirflowDeployment, since: dt.datetime, dags: tuple[str, ...], timeout: float = 300) -> None:
    """Until each of ``dags`` has finished a run created after ``since`` and nothing is queued, running or waiting
    on Assets (two polls in a row, a second apart)."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 2:
        ((busy,),) = deployment.query(
            "SELECT (SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running'))"
            " + (SELECT count(*) FROM asset_dag_run_queue)"
        )
        finished = {
            dag_id
            for (dag_id,) in deployment.query(
                "SELECT DISTINCT dag_id FROM dag_run WHERE state IN ('success', 'failed') AND run_after > %s", since
            )
        }
        quiet = quiet + 1 if busy == 0 and set(dags) <= finished else 0
        deployment._check_alive()
        if time.monotonic() > deadline:
            tasks = deployment.query(
                "SELECT ti.dag_id, ti.task_id, ti.state, ti.try_number FROM task_instance AS ti JOIN dag_run AS run "
                "ON run.dag_id = ti.dag_id AND run.run_id = ti.run_id WHERE run.state IN ('queued', 'running') "
                "AND ti.state IS DISTINCT FROM 'success'"
            )
            raise TimeoutError(f"the runs did not settle in {timeout}s: {runs_of(deployment)}; unfinished: {tasks}")
        time.sleep(1)


EXTRACTION_DAGS = ("hubspot_deals", "pinterest_spend")


def backfill_extractions(deployment: AirflowDeployment, first: dt.date, last: dt.date) -> None:
    """`airflow backfill create` of the days ``first``..``last`` of both extraction DAGs (daily runs: the deployment
    sets PIN2DEAL_HUBSPOT_DEALS_SCHEDULE to midnight), then unpause them and wait until every run succeeded.

    The backfills are created while the DAGs are paused: unpausing then finds the latest interval's run already
    there (the backfill's, when ``last`` is yesterday) and adds no scheduled run. DAGs downstream should stay paused
    meanwhile (a paused DAG queues no Asset event), so the days make one reconcile, not one per finished run.
    """
    with ThreadPoolExecutor(2) as pool:  # two CLI processes at once: most of each is Airflow's start-up
        backfills = [
            pool.submit(
                deployment.cli, "backfill", "create", "--dag-id", dag_id, "--from-date", first.isoformat(),
                "--to-date", last.isoformat(), "--dag-run-conf", conf,
            )
            for dag_id, conf in (("hubspot_deals", "{}"), ("pinterest_spend", '{"lookback_days": 0}'))
        ]  # fmt: skip
        for backfill in backfills:
            backfill.result()
    deployment.unpause(*EXTRACTION_DAGS)
    days = (last - first).days + 1
    for dag_id in EXTRACTION_DAGS:
        runs = deployment.wait_for_runs(dag_id, "backfill", days, timeout=300)
        assert [(logical.date(), state) for logical, state in runs] == [
            (first + dt.timedelta(days=offset), "success") for offset in range(days)
        ], (dag_id, runs)
