"""A chat model behind an OpenAI-compatible HTTP API (``POST /v1/chat/completions``): the briefing's optional rewrite.

The connection (type http): host = the API's base (``https://api.openai.com`` or a local server), password = the
API key (sent as a bearer token, masked), extra ``{"model": "...", "endpoint": "/v1/chat/completions"}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk.exceptions import AirflowFailException

from pin2deal.hooks.pinterest import retry_after_seconds
from pin2deal.retrying import TransientAPIError, api_retrying

OWN_EXTRA_KEYS = ("model", "endpoint")


class ChatCompletionsHook(HttpHook):
    conn_name_attr = "llm_conn_id"
    default_conn_name = "llm_default"
    conn_type = "http"
    hook_name = "OpenAI-compatible chat completions"

    def __init__(self, llm_conn_id: str = default_conn_name, *, timeout: float = 120.0, **kwargs: Any) -> None:
        super().__init__(method="POST", http_conn_id=llm_conn_id, **kwargs)
        self.llm_conn_id = llm_conn_id
        self.timeout = timeout

    def _extract_auth(self, connection: Any) -> None:
        return None  # a bearer token, not HTTP Basic

    def _configure_session_from_extra(self, session: requests.Session, connection: Any, extra_options: dict) -> Any:
        session = super()._configure_session_from_extra(session, connection, extra_options)
        for key in OWN_EXTRA_KEYS:
            session.headers.pop(key, None)
        return session

    def complete(self, body_without_model: dict[str, Any]) -> dict[str, Any]:
        """Send one chat completion request (the connection's model is added) and return the decoded answer."""
        connection = self.get_connection(self.llm_conn_id)
        extra = connection.extra_dejson
        model = extra.get("model")
        if not model:
            raise AirflowFailException(f"connection {self.llm_conn_id!r} needs the model name in its extra (model)")
        headers = {"Authorization": f"Bearer {connection.password}"} if connection.password else {}
        body = {**body_without_model, "model": model}

        def attempt() -> dict[str, Any]:
            try:
                response = self.run(
                    endpoint=extra.get("endpoint", "/v1/chat/completions"),
                    json=body,
                    headers=headers,
                    extra_options={"timeout": self.timeout, "check_response": False},
                )
            except (requests.ConnectionError, requests.Timeout) as error:
                raise TransientAPIError(f"chat completions: {type(error).__name__} (no answer)") from error
            if response.ok:
                return response.json()
            # the answer's text may quote the key: it goes to the log and to ops.briefings.rewrite_note
            text = response.text.replace(connection.password, "***") if connection.password else response.text
            detail = f"chat completions answered {response.status_code}: {text[:200]}"
            if response.status_code == 429 or response.status_code >= 500:
                retry_after = retry_after_seconds(response.headers, dt.datetime.now(dt.UTC))
                raise TransientAPIError(detail, status=response.status_code, retry_after=retry_after)
            raise AirflowFailException(detail)

        return api_retrying(attempts=3)(attempt)
