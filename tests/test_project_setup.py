"""The setup parts that tests cannot otherwise reach: the warehouse finder and docker-compose.yaml."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_SERVICES = [
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-init",
]


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


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


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
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": "http",
        "AIRFLOW_CONN_PINTEREST_ADS_DEFAULT": "http",
        "AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT": "http",
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
