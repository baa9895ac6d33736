"""A real Airflow deployment for end-to-end tests (``scripts/airflow_local.py``, the one ``make ui`` runs): api-server,
scheduler and dag-processor processes with the LocalExecutor, metadata in its own database on the test PostgreSQL
server, the sandbox over loopback."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest

from sandbox.connections import airflow_connections
from sandbox.generate import generate
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from scripts.airflow_local import AirflowDeployment, airflow_env, create_database, drop_database, free_port

__all__ = ["AirflowDeployment"]


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
    database = f"airflow_e2e_{uuid.uuid4().hex[:8]}"
    metadata_url = create_database(warehouse_url, database)
    connections = airflow_connections(e2e_world.url, e2e_world.app.state.sandbox.dataset.config)
    env = {**airflow_env(home, metadata_url, warehouse_url, connections, free_port()), **e2e_env}
    deployment = AirflowDeployment(home, env, metadata_url)
    deployment.setup()
    deployment.start(("api-server", "scheduler", "dag-processor"))
    try:
        yield deployment
    finally:
        deployment.stop()
        drop_database(warehouse_url, database)
