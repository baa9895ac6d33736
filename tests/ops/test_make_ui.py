"""`make ui` for real, then its stop: the target starts the sandbox and Airflow's api-server, scheduler, dag-processor
and triggerer in the background and prints the URL and the login; that login, through Airflow's own auth, opens the
pin2deal page (refused without it); stopping leaves no process of it running and frees its ports.

It runs `make ui` itself, moved beside the other tests' deployments (PIN2DEAL_UI_HOME, PIN2DEAL_UI_DATABASE,
PIN2DEAL_UI_PORT, a sandbox dataset of its own, the session's warehouse). It stops it with
`scripts/airflow_local.py stop`, the first half of `make stop`: the second half stops the private PostgreSQL, which
the rest of the suite is using.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from scripts.airflow_local import drop_database, free_port, group_members
from tests.conftest import ROOT

COMPONENTS = {"api-server", "scheduler", "dag-processor", "triggerer", "sandbox"}


def _processes_of(home: Path) -> list[str]:
    """Live processes whose environment names the deployment's home (its components, their workers and tasks)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0") and "Z" not in _state(environ.parent):
                found.append(f"{environ.parent.name}: {(environ.parent / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def _state(proc: Path) -> str:
    return (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]


def _port_free(port: int) -> bool:
    """Whether a new server could listen on ``port`` as uvicorn does (SO_REUSEADDR: the closed connections' TIME_WAIT
    does not count, a listening socket does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


@pytest.mark.slow
def test_make_ui_serves_the_page_behind_airflows_login_and_stop_leaves_nothing_running(
    warehouse_url: str, tmp_path: Path
) -> None:
    from sandbox.__main__ import DEFAULT_TODAY
    from sandbox.generate import generate

    world, home = tmp_path / "world", tmp_path / "ui"
    generate(world, deals=40, seed=5, today=DEFAULT_TODAY)
    database, port = f"airflow_make_ui_{uuid.uuid4().hex[:8]}", free_port()
    env = {
        **os.environ,
        "PIN2DEAL_WAREHOUSE_URL": warehouse_url,
        "PIN2DEAL_SANDBOX_DATA": str(world),
        "PIN2DEAL_UI_HOME": str(home),
        "PIN2DEAL_UI_DATABASE": database,
        "PIN2DEAL_UI_PORT": str(port),
    }
    pids: dict[str, int] = {}
    try:
        started = subprocess.run(
            ["make", "-s", "ui"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        if (home / "pids.json").exists():
            pids = json.loads((home / "pids.json").read_text())
        assert started.returncode == 0, started.stdout + started.stderr
        up = re.search(r"Airflow is up: (\S+)  \(login: (\S+) / (\S+)\)", started.stdout)
        assert up, started.stdout
        url, user, password = up.groups()
        assert url == f"http://127.0.0.1:{port}"
        sandbox_port = int(re.search(r"sandbox APIs on http://127\.0\.0\.1:(\d+)", started.stdout).group(1))
        assert set(pids) == COMPONENTS, pids

        assert requests.get(f"{url}/pin2deal/", timeout=30).status_code == 401, "no page without a login"
        login = requests.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=30)
        login.raise_for_status()
        page = requests.get(
            f"{url}/pin2deal/", headers={"Authorization": f"Bearer {login.json()['access_token']}"}, timeout=60
        )
        assert page.status_code == 200, page.text[:500]
        assert "<h1>pin2deal</h1>" in page.text, page.text[:500]
        assert _processes_of(home), "the components run with the printed home"

        # The CLI line it prints, exactly as printed, in a new shell: nothing of this one's PATH or environment.
        printed = re.search(r"CLI against it: (.+?); logs in ", started.stdout)
        assert printed, started.stdout
        fresh_shell = {"HOME": str(tmp_path), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        cli = subprocess.run(
            ["bash", "-c", printed.group(1)], cwd=tmp_path, env=fresh_shell, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert {"hubspot_deals", "pinterest_spend", "attribution_reconcile", "daily_briefing"} <= set(
            re.findall(r"^(\w+)\s", cli.stdout, flags=re.M)
        ), cli.stdout
    finally:
        stopped = subprocess.run(
            [sys.executable, "scripts/airflow_local.py", "stop"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        drop_database(warehouse_url, database)

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert {name: group_members(pid) for name, pid in pids.items() if group_members(pid)} == {}
    assert _processes_of(home) == [], "no api-server, scheduler, dag-processor, triggerer, worker or task is left"
    assert _port_free(port) and _port_free(sandbox_port), "the api-server's and the sandbox's ports are free"
    assert not (home / "pids.json").exists()
