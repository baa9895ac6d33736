"""A real Airflow deployment for end-to-end tests: api-server, scheduler and dag-processor processes with the
LocalExecutor, metadata in its own database on the test PostgreSQL server, the sandbox over loopback."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from sandbox.connections import airflow_connections
from sandbox.generate import generate
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from tests.conftest import ROOT, database_url

AIRFLOW = [sys.executable, "-m", "airflow"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AirflowDeployment:
    """The three long-running Airflow components as subprocesses, and the CLI against them."""

    def __init__(self, home: Path, env: dict[str, str], metadata_url: str) -> None:
        self.home, self.env, self.metadata_url = home, env, metadata_url
        self.processes: list[subprocess.Popen] = []

    def cli(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [*AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        assert result.returncode == 0, f"airflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self) -> None:
        port = self.env["AIRFLOW__API__PORT"]
        for name, args in (
            ("api-server", ["api-server", "--host", "127.0.0.1", "--port", port]),
            ("scheduler", ["scheduler"]),
            ("dag-processor", ["dag-processor"]),
        ):
            log = (self.home / f"{name}.log").open("w")
            self.processes.append(
                subprocess.Popen(
                    [*AIRFLOW, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5  # a throwaway deployment: no need to wait for a graceful drain
        for process in self.processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def query(self, statement: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.metadata_url) as conn:
            return conn.execute(statement, params).fetchall()

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not self.query("SELECT 1 FROM dag WHERE dag_id = %s", dag_id):
            self._check_alive()
            assert time.monotonic() < deadline, f"{dag_id} was not parsed in {timeout}s; see {self.home}"
            time.sleep(1)

    def wait_for_runs(self, dag_id: str, run_type: str, count: int, timeout: float = 240) -> list[tuple]:
        """Wait until ``count`` runs of ``run_type`` have finished; return (logical_date, state) of each."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.query(
                "SELECT logical_date, state FROM dag_run WHERE dag_id = %s AND run_type = %s ORDER BY logical_date",
                dag_id,
                run_type,
            )
            if len(runs) >= count and all(state in ("success", "failed") for _, state in runs):
                return runs
            self._check_alive()
            assert time.monotonic() < deadline, f"{dag_id} runs did not finish in {timeout}s: {runs}; see {self.home}"
            time.sleep(2)

    def _check_alive(self) -> None:
        for process in self.processes:
            assert process.poll() is None, f"{process.args} exited with {process.returncode}; see {self.home}"


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
    with psycopg.connect(warehouse_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    metadata_url = database_url(warehouse_url, database)
    port = str(_free_port())
    env = {
        **os.environ,
        **airflow_connections(e2e_world.url, e2e_world.app.state.sandbox.dataset.config),
        "AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": warehouse_url,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url.replace("postgresql://", "postgresql+psycopg://", 1),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # Two cores run the whole suite: one parsing process, and few executor slots.
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        **e2e_env,
    }
    deployment = AirflowDeployment(home, env, metadata_url)
    deployment.cli("db", "migrate")
    deployment.cli("pools", "import", str(ROOT / "include" / "airflow" / "pools.json"))
    deployment.start()
    try:
        yield deployment
    finally:
        deployment.stop()
        with psycopg.connect(warehouse_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
