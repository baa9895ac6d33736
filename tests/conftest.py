"""Test harness: a fresh warehouse database per session on a real PostgreSQL, a throwaway Airflow home, the
sandbox served over real HTTP, and a helper that runs DAGs for real with ``dag.test()``."""

from __future__ import annotations

import importlib.util
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Airflow reads its configuration when first imported: give it a private home before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="pin2deal-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
)
# The key OAuth tokens are stored with (ops.oauth_tokens): one per session, shared by every process it starts.
if not os.environ.get("PIN2DEAL_TOKEN_KEY"):
    from cryptography.fernet import Fernet

    os.environ["PIN2DEAL_TOKEN_KEY"] = Fernet.generate_key().decode()

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402


# -- tests that need Pinterest's OpenAPI description (marked ``pinterest_spec``) -----------------------------------
def _spec_missing() -> str | None:
    """Why the spec tests cannot run here (None: the description is there)."""
    from sandbox.pinterest.spec import SPEC_ENV, default_spec_path

    path = default_spec_path()
    if path.is_file():
        return None
    return (
        f"Pinterest's OpenAPI description is not at {path}: run `make spec` to download it, or set {SPEC_ENV} "
        "to the path of v5/openapi.json from https://github.com/pinterest/api-description"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a ``pinterest_spec`` test when the description is absent; under CI (``CI`` set) that is an error."""
    if item.get_closest_marker("pinterest_spec") is None:
        return
    missing = _spec_missing()
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, and {missing}", pytrace=False)
    pytest.skip(missing)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say it at the very end, once, when spec tests were skipped: a green run did not check them."""
    missing = _spec_missing()
    if missing is None:
        return
    skipped = [
        report for report in terminalreporter.stats.get("skipped", []) if "OpenAPI description" in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_sep("=", f"{len(skipped)} tests skipped: they need Pinterest's OpenAPI description")
        terminalreporter.write_line(missing, yellow=True, bold=True)


# -- every PostgreSQL server a test starts under the session's temporary directory stops with the session -------
@pytest.fixture(scope="session", autouse=True)
def no_server_left_running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """At the end of the session (of each xdist worker), a PostgreSQL server still running on a data directory under
    the session's temporary directory is stopped, and the session fails naming it."""
    yield
    stop_servers_left(tmp_path_factory.getbasetemp())


@pytest.hookimpl(trylast=True)  # after xdist's own, which ends the workers
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The xdist controller sweeps every worker's temporary directory too: a worker that died ran no teardown."""
    if hasattr(session.config, "workerinput") or not session.config.pluginmanager.has_plugin("dsession"):
        return  # a worker, or a run without xdist: the session fixture did it
    try:
        stop_servers_left(session.config._tmp_path_factory.getbasetemp())
    except AssertionError as error:
        session.config.get_terminal_writer().line(f"ERROR: {error}", red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def stop_servers_left(root: Path) -> None:
    """Stop every PostgreSQL server running on a data directory under ``root``; fail naming them if there was any."""
    from tests.postgres_servers import servers_under, stop_server

    left = servers_under(root)
    for pid in left:
        stop_server(pid)
    assert not left, "PostgreSQL servers left running by the tests (stopped now): " + ", ".join(
        f"pid {pid} on {data}" for pid, data in sorted(left.items())
    )


def _local_postgres():
    spec = importlib.util.spec_from_file_location("local_postgres", ROOT / "scripts" / "local_postgres.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def database_url(server_url: str, name: str) -> str:
    """The ``postgresql://`` URL of database ``name`` on the server of ``server_url`` (also an ``AIRFLOW_CONN_*``)."""
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


@pytest.fixture(scope="session")
def warehouse_url() -> Iterator[str]:
    """A fresh database on the configured (or private) server, migrated, dropped after the session."""
    server_url = os.environ.get("PIN2DEAL_WAREHOUSE_URL") or _local_postgres().start()
    name = f"pin2deal_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = database_url(server_url, name)
    os.environ["AIRFLOW_CONN_PIN2DEAL_WAREHOUSE"] = url
    from pin2deal.hooks.warehouse import WarehouseHook

    WarehouseHook().migrate()
    yield url
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def warehouse(warehouse_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the session's warehouse database, for arranging and asserting."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database (SQLite in the throwaway home), created once per session."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture(scope="session")
def dagbag(airflow_db: None):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def isolated_dag_test(dag, logical_date, conf: dict[str, Any] | None = None, **kwargs: Any):
    """``dag.test()`` that leaves the DAG as it found it: ``dag.test()`` resolves the run's conf into the DAG's own
    Param objects, so without this a conf given to one run (e.g. ``full_refresh``) would silently apply to later
    runs of the session's shared DAG object."""
    holders = (dag.params, *(task.params for task in dag.tasks))
    defaults = [(param, param.value) for params in holders for param in map(params.get_param, params)]
    try:
        return dag.test(logical_date=logical_date, run_conf=conf or {}, **kwargs)
    finally:
        for param, value in defaults:
            param.value = value


@pytest.fixture
def run_dag(dagbag, warehouse_url: str) -> Callable[..., Any]:
    """Run one DAG for real (``dag.test()``) for a logical date; fail the test unless the run succeeds."""

    def run(dag_id: str, logical_date, conf: dict[str, Any] | None = None, expect: str = "success"):
        dag = dagbag.get_dag(dag_id)
        assert dag is not None, f"DAG {dag_id} not found: {dagbag.import_errors}"
        dag_run = isolated_dag_test(dag, logical_date, conf)
        assert dag_run.state == expect, f"{dag_id} ended {dag_run.state}, expected {expect}"
        return dag_run

    return run


@pytest.fixture
def sandbox_server(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """Start a sandbox on a dataset directory (real HTTP on loopback) and point Airflow's connections at it."""
    from sandbox.connections import airflow_connections
    from sandbox.server import SandboxServer
    from sandbox.settings import SandboxSettings

    servers: list[SandboxServer] = []

    def start(data_dir: Path, **settings: Any) -> SandboxServer:
        server = SandboxServer(SandboxSettings(data_dir=Path(data_dir), **settings)).start()
        servers.append(server)
        for name, value in airflow_connections(server.url, server.app.state.sandbox.dataset.config).items():
            monkeypatch.setenv(name, value)
        return server

    yield start
    for server in servers:
        server.stop()
