"""A Slack incoming webhook on the HTTP provider: the one way pin2deal posts to Slack (the briefing's delivery, the
failure and deadline alerts of ``pin2deal.alerts``).

The connection (type http) holds the webhook's base in its host (``https://hooks.slack.com``) and the secret path
(``/services/T.../B.../...``) as its password, so the path is masked in logs like any password. 429 and 5xx answers
are retried (``Retry-After`` honoured) by the shared retry policy; any other non-2xx fails with Slack's answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.exceptions import AirflowFailException
from airflow.sdk.log import mask_secret

from pin2deal.hooks.pinterest import retry_after_seconds
from pin2deal.retrying import TransientAPIError, api_retrying


class SlackWebhookHook(HttpHook):
    conn_name_attr = "slack_conn_id"
    default_conn_name = "slack_briefing"
    conn_type = "http"
    hook_name = "Slack incoming webhook"

    def __init__(
        self, slack_conn_id: str = default_conn_name, *, timeout: float = 30.0, attempts: int = 4, **kwargs: Any
    ) -> None:
        super().__init__(method="POST", http_conn_id=slack_conn_id, **kwargs)
        self.slack_conn_id = slack_conn_id
        self.timeout = timeout
        self.attempts = attempts  # tries of one message (transient answers only); an alert wants few

    def _extract_auth(self, connection: Any) -> None:
        """The password is the webhook's path, not a credential for HTTP Basic."""
        return None

    def post_text(self, text: str) -> None:
        """Post one message (``{"text": ...}``, Slack mrkdwn)."""
        path = self.get_connection(self.slack_conn_id).password
        if not path:
            raise AirflowFailException(
                f"connection {self.slack_conn_id!r} has no webhook path: put /services/... in its password"
            )
        mask_secret(path)

        def attempt() -> None:
            try:
                response = self.run(
                    endpoint=path,
                    json={"text": text},
                    extra_options={"timeout": self.timeout, "check_response": False},
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                raise TransientAPIError(f"Slack webhook: {type(error).__name__} (no answer)") from error
            if response.ok:
                return
            detail = f"Slack webhook answered {response.status_code}: {response.text.replace(path, '***')[:200]}"
            if response.status_code == 429 or response.status_code >= 500:
                retry_after = retry_after_seconds(response.headers, dt.datetime.now(dt.UTC))
                raise TransientAPIError(detail, status=response.status_code, retry_after=retry_after)
            raise AirflowFailException(detail)

        api_retrying(attempts=self.attempts)(attempt)
