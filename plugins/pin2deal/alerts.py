"""Failure and deadline alerts: always logged; sent to Slack and by e-mail when their connections exist.

One notifier serves both paths Airflow has: a task's ``on_failure_callback`` (sync, in the task's process) and a
Deadline alert's ``AsyncCallback`` (async, in the triggerer). The message says what failed and what to do: the
"If it fails" part of the failed task's ``doc_md``, so the advice lives next to the code it is about.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.bases.notifier import BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException

# An http connection to a Slack incoming webhook, posted to by SlackWebhookHook (hooks/slack_webhook.py): host
# https://hooks.slack.com, password /services/T.../B.../... (the path is the secret: masked, never logged).
SLACK_CONN_ID = "pin2deal_slack"
# An smtp connection (host, port, login, password; extra: {"to": "a@x, b@y", "from_email": ..., "disable_tls"}).
SMTP_CONN_ID = "pin2deal_smtp"
SEND_TIMEOUT = 10  # seconds: an alert channel that hangs must not hold the task's slot

_ADVICE = re.compile(r"\*\*If it fails\*\*:?\s*(.+?)(?:\n\s*\n|\Z)", re.S)


def failure_advice(doc_md: str | None) -> str | None:
    """The "**If it fails**" paragraph of a task's or DAG's ``doc_md``, on one line."""
    match = _ADVICE.search(doc_md or "")
    return " ".join(match.group(1).split()) if match else None


def _get(obj: Any, name: str) -> Any:
    """An attribute of a context object, or a key of its JSON form (the deadline context is plain JSON)."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def alert_text(title: str, context: Mapping[str, Any]) -> str:
    """The alert as plain text: what, where, the error, what to do, where to look."""
    ti, task, dag_run = context.get("ti"), context.get("task"), context.get("dag_run")
    dag_id = _get(ti, "dag_id") or _get(dag_run, "dag_id")
    run_id = _get(ti, "run_id") or _get(dag_run, "dag_run_id") or _get(dag_run, "run_id")
    lines = [title, f"DAG: {dag_id}  run: {run_id}"]
    if ti is not None:
        lines.append(f"task: {ti.task_id}  try {ti.try_number} of {(_get(task, 'retries') or 0) + 1}")
    deadline = context.get("deadline")
    if deadline:
        lines.append(f"deadline: {deadline.get('deadline_time')}")
    exception = context.get("exception")
    if exception is not None:
        lines.append(f"error: {type(exception).__name__}: {str(exception)[:500]}")
    advice = failure_advice(_get(task, "doc_md")) or failure_advice(_get(context.get("dag"), "doc_md"))
    if advice:
        lines.append(f"what to do: {advice}")
    log_url = _get(ti, "log_url")
    if log_url:
        lines.append(f"log: {log_url}")
    return "\n".join(lines)


def send_email(conn: Any, subject: str, text: str) -> None:
    extra = conn.extra_dejson
    recipients = [address.strip() for address in str(extra.get("to", "")).split(",") if address.strip()]
    if not recipients:
        raise ValueError(f"connection {conn.conn_id!r} has no recipients: set extra {{\"to\": \"a@x, b@y\"}}")
    message = EmailMessage()
    message["Subject"], message["To"] = subject, ", ".join(recipients)
    message["From"] = extra.get("from_email") or conn.login or "pin2deal@localhost"
    message.set_content(text)
    smtp_class = smtplib.SMTP_SSL if extra.get("ssl") else smtplib.SMTP
    with smtp_class(conn.host, conn.port or (465 if extra.get("ssl") else 25), timeout=SEND_TIMEOUT) as smtp:
        if not extra.get("ssl") and not extra.get("disable_tls"):
            smtp.starttls()
        if conn.login:
            smtp.login(conn.login, conn.password or "")
        smtp.send_message(message)


class Pin2dealNotifier(BaseNotifier):
    """Log the alert, then send it to every configured channel; a failing channel is logged, never raised.

    ``context`` is how the triggerer hands a Deadline alert its (JSON) context: ``AsyncCallback`` builds the
    notifier with it, then awaits it.
    """

    template_fields = ("title",)

    def __init__(
        self,
        title: str = "pin2deal: task failed",
        slack_conn_id: str = SLACK_CONN_ID,
        smtp_conn_id: str = SMTP_CONN_ID,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(context=context)
        self.title, self.slack_conn_id, self.smtp_conn_id = title, slack_conn_id, smtp_conn_id

    def notify(self, context: Any) -> None:
        text = alert_text(self.title, context)
        self.log.error("ALERT %s", text)
        self._send(text)

    async def async_notify(self, context: Any) -> None:
        # In the triggerer: the channels are blocking I/O (and their connections sync SDK calls, which Airflow
        # answers from a worker thread), so they run in one, off the triggerer's event loop.
        text = alert_text(self.title, context)
        self.log.error("ALERT %s", text)
        await asyncio.to_thread(self._send, text)

    def _send(self, text: str) -> None:
        """Every configured channel; one that is not configured is skipped, one that fails is logged."""
        from pin2deal.hooks.slack_webhook import SlackWebhookHook  # here: every DAG file imports this module

        channels = (
            (self.slack_conn_id, lambda: SlackWebhookHook(self.slack_conn_id, timeout=SEND_TIMEOUT, attempts=2)
             .post_text(text)),
            (self.smtp_conn_id, lambda: send_email(BaseHook.get_connection(self.smtp_conn_id), self.title, text)),
        )  # fmt: skip
        for conn_id, send in channels:
            if not conn_id:
                continue
            try:
                send()
                self.log.info("Alert sent through connection %s", conn_id)
            except AirflowNotFoundException:
                continue  # the channel is not configured
            except Exception as error:  # one broken channel must not silence the others
                self.log.error("Alert through connection %s failed: %s", conn_id, error)
