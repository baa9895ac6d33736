"""A real Airflow deployment on this machine: api-server, scheduler, dag-processor (and triggerer) as processes with
the LocalExecutor, metadata in a PostgreSQL database, pin2deal's dags/ and plugins/, the sandbox over loopback.

Two users share it: ``make ui`` (``python scripts/airflow_local.py start|stop``: the demo world, kept running in the
background until ``make stop``) and the end-to-end tests (``tests/e2e/conftest.py``: a throwaway deployment per
test module).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW = [sys.executable, "-m", "airflow"]
# `make ui`'s home and metadata database; PIN2DEAL_UI_HOME / PIN2DEAL_UI_DATABASE / PIN2DEAL_UI_PORT move them (the
# test of `make ui` runs it beside other deployments).
UI_HOME = ROOT / ".local" / "ui"
UI_DATABASE = "pin2deal_airflow_ui"
UI_USER = "admin"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(server_url: str, name: str) -> str:
    """The ``postgresql://`` URL of database ``name`` on the server of ``server_url`` (also an ``AIRFLOW_CONN_*``)."""
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


def create_database(server_url: str, name: str) -> str:
    """Create database ``name`` unless it exists; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(server_url, name)


def clone_metadata_database(server_url: str, name: str) -> str:
    """Create database ``name`` as a copy of a migrated metadata template with pin2deal's pools; return its URL.

    The template (``pin2deal_airflow_template_<hash>``: the Airflow version and pools.json) is built once per
    server with ``airflow db migrate`` and ``airflow pools import``, under an advisory lock so parallel test
    workers build it once, and kept for later sessions. A copy takes a fraction of a second; a migration, many.
    """
    import hashlib
    from importlib.metadata import version

    pools = ROOT / "include" / "airflow" / "pools.json"
    digest = hashlib.sha256(f"{version('apache-airflow')}\n{pools.read_text()}".encode()).hexdigest()[:12]
    template = f"pin2deal_airflow_template_{digest}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute("SELECT pg_advisory_lock(hashtext('pin2deal_airflow_template'))")
        try:
            if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,)).fetchone():
                building = f"{template}_building"
                drop_database(server_url, building)  # a build interrupted earlier
                url = create_database(server_url, building)
                home = Path(os.environ.get("TMPDIR", "/tmp")) / building
                home.mkdir(parents=True, exist_ok=True)
                AirflowDeployment(home, airflow_env(home, url, server_url, {}, 0), url).setup()
                admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(building), sql.Identifier(template)))  # fmt: skip
                # A session connected to the template would make every copy fail: none may connect.
                admin.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(template)))  # fmt: skip
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))  # fmt: skip
        finally:
            admin.execute("SELECT pg_advisory_unlock(hashtext('pin2deal_airflow_template'))")
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def airflow_env(
    home: Path, metadata_url: str, warehouse_url: str, connections: dict[str, str], port: int
) -> dict[str, str]:
    """The environment every component and CLI call of one deployment shares."""
    return {
        **os.environ,
        **connections,
        "AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": warehouse_url,
        "AIRFLOW_HOME": str(home),
        # psycopg2, as Airflow's official docker-compose.yaml: Airflow 3.3 recognises a busy scheduler critical section
        # by the driver error's ``pgcode``, which psycopg 3's errors lack, so under psycopg 3 the scheduler exits
        # when another session holds the pool rows (e.g. ``airflow pools set`` during its loop).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # Two cores run everything here: one parsing process, and few executor slots.
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__CORE__PARALLELISM": "4",
        # Airflow's own login (SimpleAuthManager): one admin, its password in a file only this deployment reads.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{UI_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        **deployment_secrets(home),
    }


def deployment_secrets(home: Path) -> dict[str, str]:
    """The keys every component of one deployment must share, kept in ``<home>/secrets.json`` (owner-only) so a
    restarted ``make ui`` still decrypts what its metadata holds. Left to Airflow, each process that starts before
    an airflow.cfg exists writes its own random ones (tasks fail with "Invalid auth token", the triggerer cannot
    decrypt a trigger's arguments)."""
    from cryptography.fernet import Fernet

    path = home / "secrets.json"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        keys = {
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(keys))
    return json.loads(path.read_text())


class AirflowDeployment:
    """The long-running Airflow components as subprocesses, and the CLI against them."""

    def __init__(
        self, home: Path, env: dict[str, str], metadata_url: str, airflow: list[str] | None = None
    ) -> None:
        self.home, self.env, self.metadata_url = home, env, metadata_url
        self.airflow = airflow or AIRFLOW  # another installation's `airflow` (the install test's virtualenv)
        self.processes: list[subprocess.Popen] = []
        self._token: str | None = None

    @property
    def url(self) -> str:
        return self.env["AIRFLOW__API__BASE_URL"]

    def password(self) -> str:
        """The admin's password, written before the api-server starts (it then generates none)."""
        path = self.home / "passwords.json"
        if not path.exists():
            path.write_text(json.dumps({UI_USER: secrets.token_urlsafe(12)}))
            path.chmod(0o600)
        return json.loads(path.read_text())[UI_USER]

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call of Airflow's REST API (``/api/v2/...``) as the admin, through Airflow's own login; the JSON
        answer. Milliseconds where a CLI call starts a Python process of its own."""
        import requests

        if self._token is None:
            answer = requests.post(
                f"{self.url}/auth/token", json={"username": UI_USER, "password": self.password()}, timeout=30
            )
            answer.raise_for_status()
            self._token = answer.json()["access_token"]
        answer = requests.request(
            method, f"{self.url}{path}", headers={"Authorization": f"Bearer {self._token}"}, timeout=30, **kwargs
        )
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def unpause(self, *dag_ids: str) -> None:
        """Unpause DAGs through the REST API (what ``airflow dags unpause`` does, without its process start-up)."""
        for dag_id in dag_ids:
            self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def cli(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [*self.airflow, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def setup(self) -> None:
        """Metadata schema and the pools; idempotent."""
        self.cli("db", "migrate", timeout=300)
        self.cli("pools", "import", str(ROOT / "include" / "airflow" / "pools.json"))

    def start(self, components: Iterable[str] = COMPONENTS) -> list[int]:
        """Start the components in their own sessions (so stopping one stops its children); return their pids."""
        self.password()
        port = self.env["AIRFLOW__API__PORT"]
        for name in components:
            args = ["api-server", "--host", "127.0.0.1", "--port", port] if name == "api-server" else [name]
            self.spawn(name, args)
        return [process.pid for process in self.processes]

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        """One more ``airflow <args>`` process of this deployment (e.g. a Celery worker), logged to ``<name>.log``."""
        log = (self.home / f"{name}.log").open("w")
        process = subprocess.Popen(
            [*self.airflow, *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def stop(self, grace: float = 5) -> None:
        stop_sessions([process.pid for process in self.processes], grace)
        for process in self.processes:
            process.wait()

    def wait_until_serving(self, timeout: float = 120) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/version", timeout=2):
                    return
            except OSError:
                self._check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the api-server did not answer in {timeout}s; see {self.home}") from None
                time.sleep(1)

    def query(self, statement: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.metadata_url) as conn:
            return conn.execute(statement, params).fetchall()

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not self.query("SELECT 1 FROM dag WHERE dag_id = %s", dag_id):
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} was not parsed in {timeout}s; see {self.home}")
            time.sleep(1)

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 90) -> None:
        """Until the dag-processor has stored every one of ``dag_ids``."""
        wanted, deadline = set(dag_ids), time.monotonic() + timeout
        while missing := wanted - {row[0] for row in self.query("SELECT dag_id FROM dag")}:
            self._check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sorted(missing)} were not parsed in {timeout}s; see {self.home}")
            time.sleep(0.5)

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
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} runs did not finish in {timeout}s: {runs}; see {self.home}")
            time.sleep(1)

    def _check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}; see {self.home}")


def stop_sessions(pids: list[int], grace: float = 5) -> None:
    """SIGTERM each process group we started, then SIGKILL what is left after ``grace`` seconds."""
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for pid in pids:
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.2)
        if _group_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _group_alive(pid: int) -> bool:
    """Whether a process of group ``pid`` still runs. A zombie does not count: once `make ui` has exited, its stopped
    processes are reaped by PID 1, which in a container may never do it."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie leader of our own still "exists": reap it
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return bool(group_members(pid)) if Path("/proc/self/stat").exists() else True


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``, from /proc."""
    members = []
    # Not Path.glob: it stats each entry, and a process that exits meanwhile raises ESRCH, which glob does not ignore.
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = Path("/proc", name, "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(name))
    return members


# --- make ui / make stop -------------------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"[ui] {message}", flush=True)


def _ui_home() -> Path:
    return Path(os.environ.get("PIN2DEAL_UI_HOME") or UI_HOME)


def _pid_file() -> Path:
    return _ui_home() / "pids.json"


def _running() -> dict[str, int]:
    if not _pid_file().exists():
        return {}
    pids = json.loads(_pid_file().read_text())
    return {name: pid for name, pid in pids.items() if _group_alive(pid)}


def start_ui(warehouse_url: str) -> None:
    """Serve the demo world on the sandbox and run Airflow on it in the background; print the URL and login."""
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
    from sandbox.__main__ import DEFAULT_DATASET, DEFAULT_TODAY
    from sandbox.connections import airflow_connections
    from sandbox.dataset import Dataset
    from sandbox.generate import generate

    home, database = _ui_home(), os.environ.get("PIN2DEAL_UI_DATABASE") or UI_DATABASE
    home.mkdir(parents=True, exist_ok=True)
    if _running():
        _say(f"already running: {_pid_file().read_text()} (`make stop` stops it)")
        _print_login(json.loads((home / "deployment.json").read_text()))
        return
    # Another dataset (an incident's, docs/operations.md) and sandbox options (faults, limits) when given.
    dataset = Path(os.environ.get("PIN2DEAL_SANDBOX_DATA") or DEFAULT_DATASET)
    if dataset == DEFAULT_DATASET and not (dataset / "config.json").exists():
        _say(f"generating the demo world in {dataset}")
        generate(dataset, deals=2000, seed=7, today=DEFAULT_TODAY)
    if dataset == DEFAULT_DATASET and not _warehouse_has_deals(warehouse_url):
        _say("the warehouse holds no demo data yet: running the demo pipeline first (`make demo`)")
        subprocess.run([sys.executable, str(ROOT / "scripts" / "demo.py")], check=True)

    config = Dataset.load(dataset).config  # a malformed dataset stops here, naming file, line and field
    sandbox_port = free_port()
    sandbox_log = (home / "sandbox.log").open("w")
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--data", str(dataset), "--port", str(sandbox_port)]
        + shlex.split(os.environ.get("PIN2DEAL_SANDBOX_ARGS", "")),
        cwd=ROOT,
        stdout=sandbox_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pids = {"sandbox": sandbox.pid}
    _pid_file().write_text(json.dumps(pids))  # from now on `make stop` stops what runs
    _say(f"sandbox APIs on http://127.0.0.1:{sandbox_port} serving {dataset} (log: {home}/sandbox.log)")
    connections = airflow_connections(f"http://127.0.0.1:{sandbox_port}", config)
    port = int(os.environ.get("PIN2DEAL_UI_PORT") or 0) or (8080 if _port_free(8080) else free_port())
    try:
        # A new metadata database is a copy of the migrated template; an existing one is migrated (an upgrade).
        known = _database_exists(warehouse_url, database)
        _say(f"Airflow metadata in {'database' if known else 'a new database'} {database}")
        metadata_url = (database_url if known else clone_metadata_database)(warehouse_url, database)
        env = airflow_env(home, metadata_url, warehouse_url, connections, port)
        deployment = AirflowDeployment(home, env, metadata_url)
        if known:
            deployment.setup()
        pids.update(zip(COMPONENTS, deployment.start(), strict=True))
    finally:
        _pid_file().write_text(json.dumps(pids))
    info = {"url": deployment.url, "user": UI_USER, "password": deployment.password(), "home": str(home)}
    (home / "deployment.json").write_text(json.dumps(info))
    (home / "env.sh").write_text(
        "".join(f"export {name}={_shell_quote(value)}\n" for name, value in deployment.env.items() if _exported(name))
        # the virtualenv's `airflow` first: a new shell has it nowhere on its PATH
        + f'export PATH={_shell_quote(str(Path(sys.executable).parent))}:"$PATH"\n'
    )
    (home / "env.sh").chmod(0o600)  # it holds the deployment's secrets
    try:
        deployment.wait_until_serving()
    except (TimeoutError, RuntimeError):
        stop_ui()
        raise
    _print_login(info)


def _print_login(info: dict[str, str]) -> None:
    _say(f"Airflow is up: {info['url']}  (login: {info['user']} / {info['password']})")
    _say(f"the pin2deal page: {info['url']}/plugin/pin2deal (menu: Browse > pin2deal)")
    home = _ui_home()
    _say(f"CLI against it: source {home}/env.sh && airflow dags list; logs in {home}; stop with `make stop`")


def stop_ui() -> None:
    running = _running()
    if running:
        _say(f"stopping {', '.join(running)}")
        stop_sessions(list(running.values()), grace=10)
    _pid_file().unlink(missing_ok=True)


def _database_exists(server_url: str, name: str) -> bool:
    with psycopg.connect(server_url, autocommit=True) as admin:
        return bool(admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone())


def _warehouse_has_deals(url: str) -> bool:
    with psycopg.connect(url) as conn:
        if not conn.execute("SELECT to_regclass('raw.hubspot_deals')").fetchone()[0]:
            return False
        return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM raw.hubspot_deals)").fetchone()[0])


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _exported(name: str) -> bool:
    return name.startswith(("AIRFLOW", "PIN2DEAL")) or name == "PYTHONPATH"


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def main(argv: list[str]) -> None:
    command = argv[1] if len(argv) > 1 else ""
    if command == "start":
        url = os.environ.get("PIN2DEAL_WAREHOUSE_URL")
        if not url:
            sys.exit("PIN2DEAL_WAREHOUSE_URL is not set: run it with `make ui`")
        start_ui(url)
    elif command == "stop":
        stop_ui()
    else:
        sys.exit("usage: airflow_local.py start|stop")


if __name__ == "__main__":
    main(sys.argv)
