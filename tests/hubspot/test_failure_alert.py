"""A failing task alerts through the configured channels, quoting what to do from the task's own doc_md."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from deal_worlds import HOUR_MS, TOKEN, deal

from tests.receivers import SlackWebhook, SmtpServer

NEXT_HOUR_MS = HOUR_MS + 3_600_000


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[SlackWebhook, SmtpServer]]:
    slack, smtp = SlackWebhook(), SmtpServer()
    monkeypatch.setenv("AIRFLOW_CONN_PIN2DEAL_SLACK", slack.connection())
    monkeypatch.setenv("AIRFLOW_CONN_PIN2DEAL_SMTP", smtp.connection("ops@example.com, oncall@example.com"))
    yield slack, smtp
    slack.stop()
    smtp.stop()


def test_a_failed_task_alerts_slack_and_email_with_its_advice_and_no_secret(
    hubspot_world, run_dag, channels, capfd
) -> None:
    slack, smtp = channels
    hubspot_world([deal(1, HOUR_MS)], token="pat-na1-revoked-token")

    run_dag("hubspot_deals", dt.datetime.fromtimestamp(NEXT_HOUR_MS / 1000, dt.UTC), expect="failed")

    assert len(slack.received) == 1, slack.received
    text = slack.received[0]["text"]
    assert slack.received[0]["path"] == "/services/T000/B000/secret-webhook-path"
    assert "DAG: hubspot_deals" in text and "task: extract_hubspot_deals" in text
    assert "HubSpotAuthError" in text and "expired, revoked or wrong" in text
    # The advice is the task's own "If it fails" paragraph.
    assert "what to do: a 401/403 names the connection `hubspot_default`" in text
    assert "pat-na1-revoked-token" not in text and TOKEN not in text
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["rcpt"] == ["ops@example.com", "oncall@example.com"]
    assert "Subject: pin2deal: task failed" in message["data"] and "task: extract_hubspot_deals" in message["data"]
    logged = capfd.readouterr()
    assert "ALERT pin2deal: task failed" in logged.out + logged.err  # logged always, channels or not
    assert "secret-webhook-path" not in logged.out + logged.err
