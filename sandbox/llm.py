"""A fake OpenAI-compatible chat-completions endpoint, to test the briefing's rewrite guard over real HTTP.

``POST /_sandbox/llm/v1/chat/completions`` answers with a rewrite of the last message's content, chosen by the
request's ``model``:

- ``faithful``: the same text with a one-line lead-in and every ``## `` heading as ``### ``: no number changes;
- ``changed-number``: the faithful rewrite with the first dollar or euro amount increased by 5 (a hallucination);
- ``words``: the faithful rewrite with a sentence stating a number in words;
- anything else: 400 with an OpenAI-style error body.

``GET /_sandbox/llm/requests`` lists the request bodies received.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

_AMOUNT = re.compile(r"([$€])([\d,]+(?:\.\d+)?)")


def faithful(text: str) -> str:
    body = "\n".join(("### " + line[3:]) if line.startswith("## ") else line for line in text.splitlines())
    return "Your Pinterest morning, in short.\n\n" + body


def changed_number(text: str) -> str:
    rewrite = faithful(text)
    match = _AMOUNT.search(rewrite)
    if not match:
        return rewrite + "\nCAC $12.00 overall."
    value = Decimal(match[2].replace(",", "")) + 5
    return rewrite[: match.start()] + f"{match[1]}{value:,}" + rewrite[match.end() :]


def install(app: FastAPI, sandbox: Any) -> None:
    received: list[dict[str, Any]] = []
    lock = threading.Lock()

    @app.post("/_sandbox/llm/v1/chat/completions", include_in_schema=False)
    async def chat_completions(request: Request) -> JSONResponse:
        body = await request.json()
        with lock:
            received.append(body)
        text = str((body.get("messages") or [{}])[-1].get("content", ""))
        model = body.get("model")
        rewrites = {
            "faithful": faithful,
            "changed-number": changed_number,
            "words": lambda t: faithful(t) + "\nTwelve campaigns ran this week.",
        }
        if model not in rewrites:
            error = {"message": f"The model `{model}` does not exist", "type": "invalid_request_error"}
            return JSONResponse({"error": error}, status_code=400)
        content = rewrites[model](text)
        return JSONResponse(
            {
                "id": "chatcmpl-sandbox",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
            }
        )

    @app.get("/_sandbox/llm/requests", include_in_schema=False)
    def requests_received() -> dict[str, Any]:
        with lock:
            return {"requests": list(received)}
