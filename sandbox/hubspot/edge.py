"""What happens to a ``/crm/...`` request before HubSpot's handlers see it: faults, auth, rate limits.

1. **Faults** — ``sandbox.faults_asgi.FaultMiddleware`` (shared with the Pinterest side, outermost) draws one
   ``sandbox.faults["hubspot"]`` fault per request (seeded: a seed replays the same sequence) and acts it out;
   :func:`fault_answer` gives it HubSpot's shapes:
   - SERVER_ERROR: 502 with the HTML page HubSpot's edge serves, 500 with HubSpot's JSON ``internal error``
     body, or 503 with the edge's HTML page (which one is drawn from a generator seeded with the sandbox seed);
   - RATE_LIMIT: a 429 burst (``burst_length`` requests) with HubSpot's TEN_SECONDLY_ROLLING body and
     ``Retry-After: retry_after_seconds``;
   - DROP_CONNECTION: the connection is closed before any byte of a response (urllib3 raises
     ``ProtocolError('Connection aborted.', RemoteDisconnected(...))``, not an ``ApiException``; GETs are
     retried by urllib3's default ``Retry`` first, then ``MaxRetryError``);
   - HANG: no answer for ``hang_seconds``, then the connection closes unanswered (the client's read timeout
     ends the call: ``ReadTimeoutError``).
2. **Auth** (:class:`HubSpotGate`) — ``Authorization: Bearer <config.hubspot_token>`` or a 401 with HubSpot's
   INVALID_AUTHENTICATION body.
3. **Rate limits** (:class:`HubSpotGate`, when ``settings.rate_limits``), per token:
   - search calls (``POST .../search``): ``search_per_second`` in any rolling second, exempt from the 10-second
     budget; 429 policy SECONDLY, no ``Retry-After``; no rate-limit headers on search responses;
   - every other call: ``per_ten_seconds`` in any rolling 10 seconds; 429 policy TEN_SECONDLY_ROLLING with
     ``Retry-After`` (seconds until a slot frees); normal responses carry ``X-HubSpot-RateLimit-Max``,
     ``-Remaining``, ``-Interval-Milliseconds``, ``-Daily`` and ``-Daily-Remaining``;
   - all calls: ``daily`` per sandbox day; 429 policy DAILY.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.faults_asgi import FaultMiddleware
from sandbox.hubspot.wire import error_response, json_response
from sandbox.limits import Fault, SlidingWindow

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
TEN_SECONDLY = ("TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
SECONDLY = ("SECONDLY", "You have reached your secondly limit.")
DAILY = ("DAILY", "You have reached your daily limit.")
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
    "\r\n</body>\r\n</html>\r\n"
)
UNAVAILABLE_HTML = (
    "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 "
    "Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"
)


def rate_limit_response(policy: tuple[str, str], retry_after: float | None) -> Response:
    """HubSpot's 429: ``{"status","message","errorType":"RATE_LIMIT","correlationId","policyName"}``."""
    name, message = policy
    correlation = str(uuid.uuid4())
    body = {"status": "error", "message": message, "errorType": "RATE_LIMIT", "correlationId": correlation,
            "policyName": name}
    headers = {"X-HubSpot-Correlation-Id": correlation}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return json_response(body, 429, headers)


def is_search(scope: Scope) -> bool:
    path = scope["path"].rstrip("/")
    return scope["method"] == "POST" and path.startswith("/crm/v3/objects/") and path.endswith("/search")


class HubSpotGate:
    """Pure ASGI middleware: auth and rate limits of ``/crm/`` requests (see the module docstring)."""

    def __init__(self, app: ASGIApp, sandbox: Any, token: str) -> None:
        self.app, self.sandbox, self.token = app, sandbox, token
        settings = sandbox.settings
        self.limited = settings.rate_limits
        self.limits = settings.hubspot
        self.ten_seconds = SlidingWindow(self.limits.per_ten_seconds, 10.0)
        self.search_second = SlidingWindow(self.limits.search_per_second, 1.0)
        self.daily_used: dict[Any, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/crm/"):
            await self.app(scope, receive, send)
            return
        search = is_search(scope)
        rejection = self._auth(scope) or self._limit(search)
        if rejection is not None:
            await rejection(scope, receive, send)
            return
        if search or not self.limited:
            await self.app(scope, receive, send)
            return
        headers = self._headers()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _auth(self, scope: Scope) -> Response | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                # The config's token (the private app's current one, see the token mutation), else the initial one.
                current = self.sandbox.dataset.config.get("hubspot_token", self.token)
                if scheme.lower() == "bearer" and token.strip() == current:
                    return None
        return error_response(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)

    def _limit(self, search: bool) -> Response | None:
        if not self.limited:
            return None
        today = self.sandbox.today
        if self.daily_used.get(today, 0) >= self.limits.daily:
            return rate_limit_response(DAILY, None)
        if search:
            if self.search_second.try_acquire() is not None:
                return rate_limit_response(SECONDLY, None)
        else:
            wait = self.ten_seconds.try_acquire()
            if wait is not None:
                return rate_limit_response(TEN_SECONDLY, wait)
        self.daily_used = {today: self.daily_used.get(today, 0) + 1}
        return None

    def _headers(self) -> list[tuple[bytes, bytes]]:
        used = self.daily_used.get(self.sandbox.today, 0)
        values = {
            "X-HubSpot-RateLimit-Daily": self.limits.daily,
            "X-HubSpot-RateLimit-Daily-Remaining": max(self.limits.daily - used, 0),
            "X-HubSpot-RateLimit-Interval-Milliseconds": 10_000,
            "X-HubSpot-RateLimit-Max": self.limits.per_ten_seconds,
            "X-HubSpot-RateLimit-Remaining": self.ten_seconds.remaining(),
        }
        return [(name.lower().encode(), str(value).encode()) for name, value in values.items()]


def fault_answer(seed: int, retry_after_seconds: int) -> Callable[[Fault], Response]:
    """HubSpot's responses for the faults that answer (SERVER_ERROR, RATE_LIMIT), for ``FaultMiddleware``."""
    shapes = random.Random(seed * 1000 + 77)

    def answer(fault: Fault) -> Response:
        if fault is Fault.RATE_LIMIT:
            return rate_limit_response(TEN_SECONDLY, retry_after_seconds)
        shape = shapes.randrange(3)
        if shape == 0:
            return Response(BAD_GATEWAY_HTML, 502, media_type="text/html")
        if shape == 1:
            correlation = str(uuid.uuid4())
            body = {"status": "error", "message": "internal error", "correlationId": correlation}
            return json_response(body, 500, {"X-HubSpot-Correlation-Id": correlation})
        return Response(UNAVAILABLE_HTML, 503, media_type="text/html")

    return answer


def install_edge(app: FastAPI, sandbox: Any, token: str) -> None:
    """Add the gate, then the fault layer around it (Starlette puts the last-added middleware outermost)."""
    app.add_middleware(HubSpotGate, sandbox=sandbox, token=token)
    settings = sandbox.settings
    app.add_middleware(
        FaultMiddleware, prefix="/crm/", injector=sandbox.faults["hubspot"], rates=settings.faults,
        answer=fault_answer(settings.seed, settings.faults.retry_after_seconds),
    )
