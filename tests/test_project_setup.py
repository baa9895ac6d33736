"""The setup parts that tests cannot otherwise reach: the warehouse finder, ``make test``'s wiring and
docker-compose.yaml."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from tests.postgres_servers import ThrowawayPostgres, servers_under, stop_server

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
]
# Airflow's official docker-compose.yaml (Airflow 3.x, airflow-core/docs/howto/docker-compose/): its services and
# their healthcheck commands. Ours keeps every one (Redis, the worker and flower behind profiles).
OFFICIAL_HEALTHCHECKS = {
    "postgres": ["CMD", "pg_isready", "-U", "airflow"],
    "redis": ["CMD", "redis-cli", "ping"],
    "airflow-apiserver": ["CMD", "curl", "--fail", "http://localhost:8080/api/v2/version"],
    "airflow-scheduler": ["CMD", "curl", "--fail", "http://localhost:8974/health"],
    "airflow-dag-processor": ["CMD-SHELL", 'airflow jobs check --job-type DagProcessorJob --hostname "$${HOSTNAME}"'],
    "airflow-worker": [
        "CMD-SHELL",
        'celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d "celery@$${HOSTNAME}" '
        '|| celery --app airflow.executors.celery_executor.app inspect ping -d "celery@$${HOSTNAME}"',
    ],
    "airflow-triggerer": ["CMD-SHELL", 'airflow jobs check --job-type TriggererJob --hostname "$${HOSTNAME}"'],
    "flower": ["CMD", "curl", "--fail", "http://localhost:5555/"],
}
OFFICIAL_WITHOUT_HEALTHCHECK = {"airflow-init", "airflow-cli"}
# Bind-mounted folders Docker creates on first start (as in the official file): Airflow writes them.
CREATED_AT_RUNTIME = {"logs", "config"}


def test_configured_warehouse_url_is_used_and_nothing_is_started(tmp_path: Path) -> None:
    url = "postgresql://someone:secret@db.example.internal:6543/pin2deal"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "local_postgres.py"), "url"],
        env={**os.environ, "PIN2DEAL_WAREHOUSE_URL": url},
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    assert result.stdout.strip() == url


# The command `run` runs in these tests: it records the warehouse URL it was given and the server's port, then exits
# with the status it is told.
SEES_THE_WAREHOUSE = (
    "import os, sys, psycopg\n"
    "url = os.environ['PIN2DEAL_WAREHOUSE_URL']\n"
    "with psycopg.connect(url) as conn:\n"
    "    port = conn.execute('show port').fetchone()[0]\n"
    "open(sys.argv[1], 'w').write(url + ' ' + port)\n"
    "sys.exit(int(sys.argv[2]))\n"
)


def test_run_stops_the_private_cluster_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIN2DEAL_WAREHOUSE_URL", raising=False)
    cluster = ThrowawayPostgres(tmp_path)
    seen = tmp_path / "seen"
    try:
        status = cluster.cluster.run([sys.executable, "-c", SEES_THE_WAREHOUSE, str(seen), "0"])
        assert status == 0
        url, port = seen.read_text().split()
        assert url == cluster.cluster._url(int(port)) and port == cluster.cluster.PORT_FILE.read_text()
        assert cluster.running() == [], "the cluster run started is still running"
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2).close()
    finally:
        cluster.stop()


def test_run_leaves_a_running_cluster_running_and_returns_the_commands_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIN2DEAL_WAREHOUSE_URL", raising=False)
    cluster = ThrowawayPostgres(tmp_path)
    seen = tmp_path / "seen"
    try:
        url = cluster.start()  # as `make demo` or `make ui` leaves it
        [pid] = cluster.running()
        status = cluster.cluster.run([sys.executable, "-c", SEES_THE_WAREHOUSE, str(seen), "3"])
        assert status == 3
        assert seen.read_text().split()[0] == url
        assert list(servers_under(tmp_path)) == [pid]
        psycopg.connect(url, connect_timeout=2).close()
    finally:
        cluster.stop()


def test_ctrl_c_lets_the_command_tear_down_then_stops_the_cluster_run_started(tmp_path_factory) -> None:
    """The script's own copy in ``tmp_path`` keeps its cluster there (``tmp_path/.local/postgres``): a terminal's
    Ctrl-C reaches the whole process group; the command still reaches the server while it handles it."""
    tmp_path = tmp_path_factory.mktemp("pg")  # short: the server's socket path must fit in 107 bytes
    (tmp_path / "scripts").mkdir()
    script = shutil.copy(ROOT / "scripts" / "local_postgres.py", tmp_path / "scripts")
    ready, teardown = tmp_path / "ready", tmp_path / "teardown"
    command = (
        "import os, sys, time, psycopg\n"
        f"open({str(ready)!r}, 'w').write('ready')\n"
        "try:\n"
        "    time.sleep(120)\n"
        "except KeyboardInterrupt:\n"
        "    with psycopg.connect(os.environ['PIN2DEAL_WAREHOUSE_URL']) as conn:\n"
        "        conn.execute('select 1')\n"
        f"    open({str(teardown)!r}, 'w').write('reached the server')\n"
        "    sys.exit(2)\n"
    )
    environment = {name: value for name, value in os.environ.items() if name != "PIN2DEAL_WAREHOUSE_URL"}
    process = subprocess.Popen([sys.executable, script, "run", "--", sys.executable, "-c", command], env=environment,
                               start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ready.exists() and servers_under(tmp_path), "the command did not start against a started cluster"
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=60) == 2
        assert teardown.read_text() == "reached the server"
        assert servers_under(tmp_path) == {}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        for pid in servers_under(tmp_path):
            stop_server(pid)


def test_run_with_a_configured_warehouse_starts_nothing_and_exits_with_the_commands_status(tmp_path: Path) -> None:
    url = "postgresql://someone:secret@db.example.internal:6543/pin2deal"
    command = "import os, sys; print(os.environ['PIN2DEAL_WAREHOUSE_URL']); sys.exit(5)"
    (tmp_path / "scripts").mkdir()  # the script's own copy would keep a cluster in tmp_path/.local/postgres
    script = shutil.copy(ROOT / "scripts" / "local_postgres.py", tmp_path / "scripts")
    result = subprocess.run(
        [sys.executable, script, "run", "--", sys.executable, "-c", command],
        env={**os.environ, "PIN2DEAL_WAREHOUSE_URL": url},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert (result.returncode, result.stdout.strip()) == (5, url), result.stderr
    assert not (tmp_path / ".local").exists()


def test_make_test_runs_pytest_through_run() -> None:
    """`make test` starts and stops the private cluster through ``run``; the other targets keep it running."""
    recipes = subprocess.run(["make", "-n", "test", "demo", "ui", "bench"], cwd=ROOT, capture_output=True, text=True,
                             check=True, timeout=30).stdout.splitlines()  # fmt: skip
    [pytest_line] = [line for line in recipes if " -m pytest" in line]
    assert re.match(r"\S+ scripts/local_postgres\.py run -- \S+ -m pytest", pytest_line), pytest_line
    for target in ("scripts/demo.py", "scripts/airflow_local.py start", "-m bench"):
        [line] = [line for line in recipes if target in line]
        assert re.match(r"PIN2DEAL_WAREHOUSE_URL=\$\(\S+ scripts/local_postgres\.py url\) ", line), line


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def _compose_variables() -> dict[str, bool]:
    """Every ``${VAR}`` the compose file interpolates -> whether it has a default (``$$`` is a literal ``$``)."""
    text = (ROOT / "docker-compose.yaml").read_text().replace("$$", "")
    found: dict[str, bool] = {}
    for name, default in re.findall(r"\$\{([A-Za-z0-9_]+)(:?-)?", text):
        found[name] = found.get(name, False) or bool(default)
    return found


def _env_example() -> set[str]:
    """Variables .env.example sets or shows (commented out)."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.M))


def test_compose_has_the_official_services_and_healthchecks_plus_the_warehouse_and_sandbox() -> None:
    services = _compose()["services"]
    assert set(OFFICIAL_HEALTHCHECKS) | OFFICIAL_WITHOUT_HEALTHCHECK | {"warehouse", "sandbox"} == set(services)
    for name, test in OFFICIAL_HEALTHCHECKS.items():
        assert services[name]["healthcheck"]["test"] == test, name
    for name in ("warehouse", "sandbox"):
        assert services[name]["healthcheck"]["test"], name


def test_compose_defaults_to_the_local_executor_and_keeps_celery_behind_a_profile() -> None:
    compose = _compose()
    services = compose["services"]
    assert compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == (
        "${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
    )
    assert services["redis"]["profiles"] == ["celery"] and services["airflow-worker"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["depends_on"]["redis"] == {"condition": "service_healthy"}
    for name, service in services.items():  # nothing outside the profile may need Redis
        if "celery" not in service.get("profiles", []) and name != "flower":
            assert "redis" not in service.get("depends_on", {}), name
    assert "providers.celery" in OFFICIAL_HEALTHCHECKS["airflow-worker"][1]
    assert re.search(r"^apache-airflow-providers-celery==", (ROOT / "requirements.txt").read_text(), flags=re.M)


def test_compose_metadata_and_warehouse_are_separate_databases() -> None:
    environment = _compose()["services"]["airflow-scheduler"]["environment"]
    metadata = environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    warehouse = _connection(environment["AIRFLOW_CONN_PIN2DEAL_WAREHOUSE"])
    assert "@postgres/" in metadata and warehouse.host == "warehouse" and warehouse.schema == "pin2deal"


def test_compose_mounted_paths_exist_in_the_repository() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            match = re.match(r"\$\{AIRFLOW_PROJ_DIR:-\.\}/([^:]+):|([a-z-]+):", volume)
            assert match, f"{name}: {volume} is neither a named volume nor in the repository"
            relative = match.group(1)
            if relative is None:
                assert match.group(2) in _compose()["volumes"], f"{name}: volume {match.group(2)} is not declared"
                continue
            if relative in CREATED_AT_RUNTIME:
                continue
            assert (ROOT / relative).exists(), f"{name} mounts {relative}, which is not in the repository"


def test_every_compose_variable_has_a_default_or_is_in_env_example_and_vice_versa() -> None:
    variables = _compose_variables()
    documented = _env_example()
    for name, has_default in variables.items():
        assert has_default or name in documented, f"${{{name}}} has no default and is not in .env.example"
    # .env.example shows nothing compose ignores (COMPOSE_PROFILES is compose's own).
    assert documented - set(variables) <= {"COMPOSE_PROFILES"}, documented - set(variables)
    environment = _compose()["x-airflow-common"]["environment"]
    for name in ("AIRFLOW_CONN_HUBSPOT_DEFAULT", "AIRFLOW_CONN_PIN2DEAL_SLACK", "AIRFLOW__CORE__EXECUTOR"):
        assert name in documented and f"${{{name}:-" in environment[name], name


def _connection(value: str):
    """The Airflow connection a ``${VAR:-default}`` compose value gives when VAR is unset."""
    from airflow.sdk import Connection

    match = re.fullmatch(r"\$\{[A-Z0-9_]+:-([^{}]*)\}", value)
    assert match, f"{value}: not a ${{VAR:-default}} compose cannot parse (no braces in the default)"
    return Connection.from_uri(match.group(1), conn_id="compose")


def test_compose_mounts_what_the_dags_need() -> None:
    services = _compose()["services"]
    for name in AIRFLOW_SERVICES:
        targets = {re.sub(r"\$\{[^}]*\}", "", volume).split(":")[1] for volume in services[name]["volumes"]}
        # The official file mounts dags, logs, config and plugins; pin2deal's SQL lives in include/.
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= targets, name
        assert services[name]["environment"]["PIN2DEAL_HOME"] == "/opt/airflow"


def test_compose_connections_are_valid_json_for_every_designed_connection() -> None:
    environment = _compose()["services"]["airflow-scheduler"]["environment"]
    expected = {
        "AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": "postgres",
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": "hubspot",
        "AIRFLOW_CONN_PINTEREST_ADS_DEFAULT": "pinterest_ads",
        "AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT": "pinterest_conversions",
    }
    for name, conn_type in expected.items():
        assert _connection(environment[name]).conn_type == conn_type, name
    for name in ("AIRFLOW_CONN_PINTEREST_ADS_DEFAULT", "AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT"):
        assert _connection(environment[name]).extra_dejson["ad_account_id"]


def test_compose_sandbox_tokens_match_the_connections() -> None:
    services = _compose()["services"]
    command = services["sandbox"]["command"]
    overrides = dict(arg.split("=", 1) for flag, arg in zip(command, command[1:], strict=False) if flag == "--set")
    environment = services["airflow-scheduler"]["environment"]
    assert _connection(environment["AIRFLOW_CONN_HUBSPOT_DEFAULT"]).password == overrides["hubspot_token"]
    ads = _connection(environment["AIRFLOW_CONN_PINTEREST_ADS_DEFAULT"])
    assert ads.password == overrides["pinterest_ads_token"]
    assert ads.extra_dejson["ad_account_id"] == overrides["ad_account_id"]
    conversions = _connection(environment["AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT"])
    assert conversions.password == overrides["pinterest_conversions_token"]


def test_compose_connections_match_the_world_the_sandbox_generates(tmp_path: Path) -> None:
    """The compose sandbox serves a generated world: its property names and time zone are the connections'."""
    from sandbox.__main__ import DEFAULT_TODAY
    from sandbox.generate import generate

    config = generate(tmp_path, deals=20, seed=7, today=DEFAULT_TODAY).config
    environment = _compose()["services"]["airflow-scheduler"]["environment"]
    assert _connection(environment["AIRFLOW_CONN_HUBSPOT_DEFAULT"]).extra_dejson["properties"] == config["properties"]
    ads = _connection(environment["AIRFLOW_CONN_PINTEREST_ADS_DEFAULT"])
    assert ads.extra_dejson["timezone"] == config["timezone"]
    assert {"refresh_token", "client_id", "client_secret"} <= set(ads.extra_dejson)


def test_compose_and_image_use_the_pinned_airflow() -> None:
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "requirements.txt").read_text(), flags=re.M).group(1)
    assert f"FROM apache/airflow:{pinned}-" in (ROOT / "Dockerfile").read_text()
    assert _compose()["x-airflow-common"]["image"].endswith(f":{pinned}}}")
