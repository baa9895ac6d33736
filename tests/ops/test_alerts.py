"""The alert notifier posts to Slack through the one Slack sender, SlackWebhookHook, against a real loopback webhook:
a transient answer is retried, a refusal is logged (without the webhook's secret path) and never raised."""

from __future__ import annotations

import pytest

from pin2deal.alerts import Pin2dealNotifier
from tests.receivers import SlackWebhook

CONTEXT = {"dag_run": {"dag_id": "probe", "run_id": "r1"}}


def _notify(monkeypatch: pytest.MonkeyPatch, slack: SlackWebhook) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_PIN2DEAL_SLACK", slack.connection())
    monkeypatch.delenv("AIRFLOW_CONN_PIN2DEAL_SMTP", raising=False)
    try:
        Pin2dealNotifier(title="pin2deal: probe")(CONTEXT)
    finally:
        slack.stop()


def test_a_transient_slack_answer_is_retried_and_the_alert_arrives_once(monkeypatch, capfd) -> None:
    slack = SlackWebhook(failures=[503])
    _notify(monkeypatch, slack)

    (message,) = slack.received
    assert message["text"].splitlines()[:2] == ["pin2deal: probe", "DAG: probe  run: r1"]
    assert message["path"] == slack.path and slack.refused == []
    assert "Alert sent through connection pin2deal_slack" in capfd.readouterr().out


def test_a_refused_alert_is_logged_without_the_webhook_path_and_never_raised(monkeypatch, capfd) -> None:
    slack = SlackWebhook(failures=[404])
    _notify(monkeypatch, slack)  # returns: a broken channel never fails the task it reports on

    logged = capfd.readouterr().out
    assert slack.received == [] and "ALERT pin2deal: probe" in logged
    assert "Alert through connection pin2deal_slack failed: Slack webhook answered 404" in logged
    assert "secret-webhook-path" not in logged
