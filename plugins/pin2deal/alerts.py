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

import requests
from airflow.sdk import BaseHook
from airflow.sdk.bases.notifier import BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException

# An http connection to a Slack incoming webhook: host https://hooks.slack.com, password /services/T.../B.../...
# (the path is the secret: read from the connection, never logged).
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


def _slack_url(conn: Any) -> str:
    """Host = the webhook's base (``https://hooks.slack.com``), password = its secret path (masked in logs like any
    password); a host holding the whole URL works too."""
    host = conn.host or ""
    port = f":{conn.port}" if conn.port else ""
    base = host if "://" in host else f"{conn.schema or 'https'}://{host}{port}"
    return f"{base.rstrip('/')}/{conn.password.lstrip('/')}" if conn.password else base


def send_slack(conn: Any, text: str) -> None:
    response = requests.post(_slack_url(conn), json={"text": text}, timeout=SEND_TIMEOUT)
    if response.status_code >= 300:  # the URL is the secret: never in the message
        raise RuntimeError(f"Slack webhook of connection {conn.conn_id!r} answered HTTP {response.status_code}")


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
        self._send([(conn_id, self._connection(conn_id)) for conn_id in self._conn_ids()], text)

    async def async_notify(self, context: Any) -> None:
        text = alert_text(self.title, context)
        self.log.error("ALERT %s", text)
        connections = [(conn_id, await self._async_connection(conn_id)) for conn_id in self._conn_ids()]
        await asyncio.to_thread(self._send, connections, text)

    def _conn_ids(self) -> list[str]:
        return [conn_id for conn_id in (self.slack_conn_id, self.smtp_conn_id) if conn_id]

    @staticmethod
    def _connection(conn_id: str) -> Any:
        try:
            return BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            return None

    @staticmethod
    async def _async_connection(conn_id: str) -> Any:
        try:
            return await BaseHook.aget_connection(conn_id)
        except AirflowNotFoundException:
            return None

    def _send(self, connections: list[tuple[str, Any]], text: str) -> None:
        for conn_id, conn in connections:
            if conn is None:
                continue
            try:
                if conn_id == self.slack_conn_id:
                    send_slack(conn, text)
                else:
                    send_email(conn, self.title, text)
                self.log.info("Alert sent through connection %s", conn_id)
            except Exception as error:  # one broken channel must not silence the others
                self.log.error("Alert through connection %s failed: %s", conn_id, error)
