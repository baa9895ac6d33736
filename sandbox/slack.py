"""A loopback stand-in for Slack incoming webhooks, so briefing delivery is tested over real HTTP.

- ``POST /_sandbox/slack/services/{path}`` with ``{"text": ...}`` -> ``ok`` (as Slack answers), recorded; a body
  without ``text`` gets 400 ``no_text`` (Slack's ``invalid_payload`` family);
- ``GET /_sandbox/slack/messages`` -> ``{"messages": [{"path", "text", "received_at"}]}`` in arrival order.

A connection for it: host = the sandbox URL + ``/_sandbox/slack``, password = ``/services/T000/B000/XXXX``.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse


def install(app: FastAPI, sandbox: Any) -> None:
    messages: list[dict[str, Any]] = []
    lock = threading.Lock()

    @app.post("/_sandbox/slack/services/{path:path}", include_in_schema=False)
    async def incoming_webhook(path: str, request: Request) -> PlainTextResponse:
        try:
            body = await request.json()
        except ValueError:
            return PlainTextResponse("invalid_payload", status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
            return PlainTextResponse("no_text", status_code=400)
        with lock:
            messages.append(
                {"path": f"/services/{path}", "text": body["text"], "received_at": dt.datetime.now(dt.UTC).isoformat()}
            )
        return PlainTextResponse("ok")

    @app.get("/_sandbox/slack/messages", include_in_schema=False)
    def received_messages() -> dict[str, Any]:
        with lock:
            return {"messages": list(messages)}
