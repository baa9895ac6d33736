"""pin2deal installed as a user installs it (README, "Install into your Airflow"), into an Airflow that knows nothing
of this repository: a fresh virtualenv with apache-airflow 3.3 only (the pinned one), then the README's five lines
exactly as written, then Airflow's own components from that virtualenv against the sandbox.

There, with no repository on ``sys.path``: ``airflow providers list`` shows pin2deal, ``airflow providers hooks``
its connection types and hooks, the connection form's metadata (``/ui/connections/hook_meta``) their own fields
with label, help text and placeholder; the DAGs parse from the one dropped-in file; the pin2deal page answers; and
the pipeline runs under the real scheduler: both extractions triggered by hand, the reconcile, the conversions and
the briefing through the Assets.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.connections import airflow_connections
from sandbox.server import SandboxServer
from scripts.airflow_local import AirflowDeployment, deployment_secrets, drop_database, free_port
from tests.conftest import ROOT
from tests.e2e.conftest import EXTRACTION_DAGS, FAST_ENV, backfill_extractions, metadata_database, runs_of, settle

DOWNSTREAM = ("attribution_reconcile", "pinterest_capi", "daily_briefing")
DAGS = (*EXTRACTION_DAGS, *DOWNSTREAM, "hubspot_sweep")


def readme_install_lines() -> list[str]:
    """The commands of the README's "Install into your Airflow" block, each line as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Install into your Airflow") :]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


def run(command: str, env: dict[str, str], cwd: Path = ROOT, timeout: float = 600) -> str:
    """One line in bash, as typed in a terminal (at the repository's root unless ``cwd``); its output."""
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def users_airflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding apache-airflow (the pinned version) and nothing of pin2deal: the user's Airflow."""
    venv = tmp_path_factory.mktemp("users-airflow") / "venv"
    uv = Path(sys.executable).parent / "uv"
    python = shutil.which("python3.11") or sys.executable
    subprocess.run([uv, "venv", "--seed", "--python", python, venv], check=True, capture_output=True, timeout=300)
    subprocess.run(
        [uv, "pip", "install", "--python", venv / "bin" / "python", "-c", ROOT / "constraints.txt",
         "apache-airflow==3.3.2"],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    return venv


@pytest.mark.slow
def test_the_readme_install_gives_a_working_provider_page_and_pipeline(
    users_airflow: Path, tiny_world: SandboxServer, own_warehouse_url: str, warehouse_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "airflow"
    (home / "dags").mkdir(parents=True)
    yesterday = tiny_world.app.state.sandbox.today - dt.timedelta(days=1)
    database, metadata_url = metadata_database(warehouse_url, "airflow_install")
    port = free_port()
    # The user's shell: this machine's environment (its certificates, proxies, pip settings) without anything of the
    # repository's (no PYTHONPATH, no Airflow or pin2deal settings), their Airflow's virtualenv first on PATH.
    machine = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AIRFLOW", "_AIRFLOW", "PIN2DEAL")) and name not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    path = [entry for entry in os.environ["PATH"].split(os.pathsep) if not entry.startswith(str(ROOT))]
    shell = {
        **machine,
        "PATH": os.pathsep.join([str(users_airflow / "bin"), *path]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # pip resolves the wheel's ranges to the versions this repository tests (as a deployment's constraints do)
        "PIP_CONSTRAINT": str(ROOT / "constraints.txt"),
    }
    try:
        for line in readme_install_lines():
            run(line, shell)
        assert (home / "dags" / "pin2deal_dags.py").is_file()
        probe = "import pin2deal, sys; print(pin2deal.__file__); print(sys.path)"
        where = run(f"python -c {json.dumps(probe)}", shell, cwd=tmp_path).splitlines()
        assert where[0].startswith(str(users_airflow)), where  # the installed package, not the repository's
        assert str(ROOT) not in where[1], where

        providers = run("airflow providers list", shell)
        assert re.search(r"^pin2deal\s+\|\s+HubSpot deals and Pinterest Ads spend", providers, flags=re.M), providers
        hooks = run("airflow providers hooks", shell)
        for conn_type, hook in (
            ("hubspot", "pin2deal.hooks.hubspot_api.HubSpotHook"),
            ("pinterest_ads", "pin2deal.hooks.pinterest.PinterestAdsHook"),
            ("pinterest_conversions", "pin2deal.hooks.pinterest.PinterestConversionsHook"),
        ):
            assert re.search(rf"^{conn_type}\s+\|.*{re.escape(hook)}", hooks, flags=re.M), hooks

        env = {
            **shell,
            **deployment_secrets(home),
            **FAST_ENV,
            **airflow_connections(tiny_world.url, tiny_world.app.state.sandbox.dataset.config),
            "AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": own_warehouse_url,  # the environment wins over the README's placeholder
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "PIN2DEAL_BRIEFING_DIR": str(tmp_path / "briefings"),
            "PIN2DEAL_HUBSPOT_DEALS_SCHEDULE": "0 0 * * *",  # daily: one backfilled day is one run
        }
        deployment = AirflowDeployment(home, env, metadata_url, airflow=[str(users_airflow / "bin" / "airflow")])
        deployment.start()
        try:
            deployment.wait_until_serving()
            deployment.wait_for_dags(DAGS, timeout=180)
            assert deployment.api("GET", "/api/v2/importErrors")["total_entries"] == 0
            files = {fileloc for (fileloc,) in deployment.query("SELECT DISTINCT relative_fileloc FROM dag")}
            assert files == {"pin2deal_dags.py"}, files

            meta = {item["connection_type"]: item for item in deployment.api("GET", "/ui/connections/hook_meta")}
            assert {"hubspot", "pinterest_ads", "pinterest_conversions"} <= set(meta)
            ads = meta["pinterest_ads"]
            assert ads["hook_name"] == "Pinterest Ads"
            assert {"ad_account_id", "timezone", "refresh_token", "client_id", "client_secret"} == set(
                ads["extra_fields"]
            )
            account = ads["extra_fields"]["ad_account_id"]
            assert account["schema"]["title"] == "Ad account id" and account["description"]
            assert account["schema"]["examples"] == ["549755885175"]
            assert ads["extra_fields"]["client_secret"]["schema"]["format"] == "password"
            assert ads["standard_fields"]["password"]["title"] == "Access token"
            assert ads["standard_fields"]["host"]["placeholder"] == "https://api.pinterest.com"
            assert ads["standard_fields"]["login"]["hidden"] is True
            mapping = meta["hubspot"]["extra_fields"]["properties"]
            assert mapping["schema"]["title"] == "Property mapping" and "epik" in mapping["description"]
            assert set(meta["pinterest_conversions"]["extra_fields"]) == {"ad_account_id"}

            assert "<h1>pin2deal</h1>" in page_html(deployment)

            # Yesterday's extractions (a CLI backfill), the reconcile on them, its Asset starting the rest.
            started = dt.datetime.now(dt.UTC)
            backfill_extractions(deployment, yesterday, yesterday)
            deployment.unpause(*DOWNSTREAM)
            deployment.api("POST", "/api/v2/dags/attribution_reconcile/dagRuns", json={"logical_date": None})
            settle(deployment, started, DOWNSTREAM, timeout=600)
            runs = runs_of(deployment)
            assert {dag_id for dag_id, _, _ in runs} == {*EXTRACTION_DAGS, *DOWNSTREAM}, runs
            assert all(state == "success" for _, _, state in runs), runs
            assert ("pinterest_capi", "asset_triggered", "success") in runs, runs
            assert ("daily_briefing", "asset_triggered", "success") in runs, runs
        finally:
            deployment.stop()
    finally:
        drop_database(warehouse_url, database)
    days = {path.stem for path in (tmp_path / "briefings").iterdir()}
    assert days and {path.name for path in (tmp_path / "briefings").iterdir()} == {
        f"{day}{suffix}" for day in days for suffix in (".md", ".png", ".svg")
    }


def page_html(deployment: AirflowDeployment) -> str:
    """The pin2deal page, behind Airflow's login."""
    import requests

    token = requests.post(
        f"{deployment.url}/auth/token", json={"username": "admin", "password": deployment.password()}, timeout=30
    ).json()["access_token"]
    answer = requests.get(f"{deployment.url}/pin2deal/", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert answer.status_code == 200, answer.text[:500]
    return answer.text
