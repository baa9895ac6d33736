"""A real Airflow deployment for end-to-end tests (``scripts/airflow_local.py``, the one ``make ui`` runs): api-server,
scheduler and dag-processor processes with the LocalExecutor, metadata in its own database on the test PostgreSQL
server, the sandbox over loopback.

Fast: each deployment's metadata database is a copy of a migrated template (``metadata_database``: one
``airflow db migrate`` per server and Airflow version, not one per test module), and ``FAST_ENV`` parses the DAG
files once and polls often.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from sandbox.connections import airflow_connections
from sandbox.generate import generate
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from scripts.airflow_local import (
    AirflowDeployment,
    airflow_env,
    clone_metadata_database,
    drop_database,
    free_port,
)

__all__ = ["FAST_ENV", "AirflowDeployment", "metadata_database"]

# Test deployments: the DAG files are parsed once (nothing edits them during a test); the scheduler reacts within a
# second; one parsing process and few executor slots (the machine's cores run everything).
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
