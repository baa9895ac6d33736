"""The briefing's Deadline alert: valid for the scheduler (serialised), and run by the triggerer's own trigger."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
from airflow.sdk import DAG

from pin2deal.dag_defaults import DEFAULT_ARGS, briefing_deadline
from pin2deal.tasks import migrate_warehouse
from tests.receivers import SlackWebhook


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackWebhook]:
    webhook = SlackWebhook()
    monkeypatch.setenv("AIRFLOW_CONN_PIN2DEAL_SLACK", webhook.connection())
    monkeypatch.delenv("AIRFLOW_CONN_PIN2DEAL_SMTP", raising=False)
    yield webhook
    webhook.stop()


def test_the_briefing_deadline_survives_serialisation_with_its_interval_and_notifier() -> None:
    from airflow.serialization.decoders import decode_deadline_alert
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("deadline_probe", schedule=None, default_args=DEFAULT_ARGS, deadline=briefing_deadline(45)) as dag:
        migrate_warehouse()
    (encoded,) = DagSerialization.from_dict(DagSerialization.to_dict(dag)).deadline
    alert = decode_deadline_alert(encoded)  # what the scheduler does when it creates the run's deadline
    assert alert.interval == dt.timedelta(minutes=45)
    assert alert.callback.path == "pin2deal.alerts.Pin2dealNotifier"
    assert "45 minutes" in alert.callback.kwargs["title"]
    assert type(alert.reference).__name__ == "DagRunQueuedAtDeadline"


def test_a_missed_briefing_deadline_alerts_through_the_triggerers_callback_trigger(slack: SlackWebhook) -> None:
    """The scheduler queues a CallbackTrigger with the callback's path and kwargs plus a JSON context; this runs it."""
    from airflow.triggers.callback import CallbackTrigger

    alert = briefing_deadline(90)
    context = {
        "dag_run": {"dag_id": "daily_briefing", "dag_run_id": "scheduled__2026-11-30T06:00:00+00:00"},
        "deadline": {"id": "0", "deadline_time": "2026-11-30T07:30:00+00:00"},
    }
    trigger = CallbackTrigger(alert.callback.path, {**alert.callback.kwargs, "context": context})

    async def run() -> list[dict]:
        return [event.payload async for event in trigger.run()]

    events = asyncio.run(run())
    assert events[-1]["state"] == "success", events
    (message,) = slack.received
    assert message["text"].startswith("pin2deal: the daily briefing is not ready 90 minutes after its run started")
    assert "DAG: daily_briefing  run: scheduled__2026-11-30T06:00:00+00:00" in message["text"]
    assert "deadline: 2026-11-30T07:30:00+00:00" in message["text"]


def test_without_channels_the_alert_is_only_logged(monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    from pin2deal.alerts import Pin2dealNotifier

    monkeypatch.delenv("AIRFLOW_CONN_PIN2DEAL_SLACK", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_PIN2DEAL_SMTP", raising=False)
    Pin2dealNotifier(title="pin2deal: probe")({"dag_run": {"dag_id": "probe", "run_id": "r1"}})
    logged = capfd.readouterr().out
    assert "ALERT pin2deal: probe" in logged and "DAG: probe  run: r1" in logged
    assert "Alert sent" not in logged


def test_daily_briefing_carries_the_deadline_unless_switched_off(tmp_path) -> None:
    """Parsed as the dag-processor does, with the environment's setting (the tests run with it off)."""
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    probe = (
        "import json, runpy; dag = runpy.run_path('dags/daily_briefing.py')['dag']; "
        "print(json.dumps([[a.interval.total_seconds(), a.callback.path] for a in dag.deadline or []]))"
    )
    found = {}
    for setting in ("45", None, "off"):
        env = {k: v for k, v in os.environ.items() if k != "PIN2DEAL_BRIEFING_DEADLINE_MINUTES"}
        if setting is not None:
            env["PIN2DEAL_BRIEFING_DEADLINE_MINUTES"] = setting
        result = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        found[setting] = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["45"] == [[2700.0, "pin2deal.alerts.Pin2dealNotifier"]]
    assert found[None] == [[7200.0, "pin2deal.alerts.Pin2dealNotifier"]]  # the default: 120 minutes
    assert found["off"] == []


@pytest.mark.slow
def test_airflow_dags_test_runs_the_daily_briefing_as_typed(warehouse_url: str, tmp_path) -> None:
    """How Airflow users debug a DAG, typed in a shell with the deadline at its default (120 minutes): the run
    succeeds (Airflow 3.3's dag.test() crashed on the alert's definition at the end of the run)."""
    import os
    import subprocess
    import sys
    import uuid

    from scripts.airflow_local import create_database, drop_database
    from tests.conftest import ROOT

    database = f"pin2deal_dags_test_{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if k != "PIN2DEAL_BRIEFING_DEADLINE_MINUTES"},
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": create_database(warehouse_url, database),
        "PIN2DEAL_BRIEFING_DIR": str(tmp_path / "briefings"),
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
    }
    try:
        subprocess.run(["airflow", "db", "migrate"], env=env, capture_output=True, check=True, timeout=300)
        typed = subprocess.run(
            ["bash", "-c", "airflow dags test daily_briefing 2026-12-01"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    finally:
        drop_database(warehouse_url, database)
    output = typed.stdout + typed.stderr
    assert typed.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "dag_id=daily_briefing, logical_date=2026-12-01 00:00:00+00:00" in output and "state=success" in output
    assert "Deadline alerts are not armed for a test run" in output
    assert (tmp_path / "briefings" / "2026-11-30.md").is_file()
