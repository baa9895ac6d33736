"""Injected faults on the wire, shared by both emulated APIs: a pure ASGI middleware per API.

``FaultInjector`` (sandbox.limits) decides *whether* a request is faulted; this module makes the fault happen the
way a client meets it in production:

- ``SERVER_ERROR`` and ``RATE_LIMIT``: the API's own error response (``answer(fault)`` builds it, so each API keeps
  its error body and headers);
- ``DROP_CONNECTION``: the TCP connection is closed before any byte of a response is written (the client sees
  "server disconnected without sending a response", as behind a failing load balancer);
- ``HANG``: no answer at all for ``FaultRates.hang_seconds`` (or until the client gives up), then the connection is
  closed unanswered: the client's read timeout is what ends the request;
- ``LOST_ANSWER`` (scripted only, ``FaultInjector.script``): the request *is* processed (CAPI events recorded),
  then its answer is withheld like ``HANG``: the client cannot tell whether it happened, as after a timeout at a
  proxy in production.

Closing a connection needs the socket, which ASGI does not expose: uvicorn's ``receive`` callable is a bound method
of its per-request cycle object, which holds the asyncio transport. The middleware therefore has to sit outside any
middleware that wraps ``receive`` (Starlette's ``BaseHTTPMiddleware`` does): ``FastAPI.add_middleware`` puts the
last-added middleware outermost, and the API packages install theirs after ``create_app`` added its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.limits import Fault, FaultInjector
from sandbox.settings import FaultRates

log = logging.getLogger(__name__)


async def close_connection(receive: Receive) -> None:
    """Close the client's TCP connection without a response (uvicorn's h11 and httptools protocols).

    The transport reports the loss on the next loop iteration; yielding once lets uvicorn mark the request
    disconnected, so it neither logs an unanswered request nor tries to write its own 500 afterwards.
    """
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError(
            "cannot drop the connection: the ASGI server's receive() does not expose its transport "
            "(serve the sandbox with uvicorn and install the fault middleware outermost)"
        )
    transport.close()
    await asyncio.sleep(0)


async def wait_for_disconnect(receive: Receive) -> None:
    """Return when the client closes its side of the connection (reading and discarding any request body)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class FaultMiddleware:
    """Draw one fault per request whose path starts with ``prefix`` and act it out; pass other requests through.

    ``answer(fault)`` returns the response for ``Fault.SERVER_ERROR`` and ``Fault.RATE_LIMIT`` in the API's shape.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        injector: FaultInjector,
        rates: FaultRates,
        answer: Callable[[Fault], Response],
    ) -> None:
        self.app, self.prefix, self.injector, self.rates, self.answer = app, prefix, injector, rates, answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Any:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return await self.app(scope, receive, send)
        fault = self.injector.draw(scope["path"])
        if fault is None:
            return await self.app(scope, receive, send)
        log.info("injecting %s into %s %s", fault.value, scope["method"], scope["path"])
        if fault in (Fault.SERVER_ERROR, Fault.RATE_LIMIT):
            return await self.answer(fault)(scope, receive, send)
        if fault is Fault.LOST_ANSWER:

            async def discard(message: Any) -> None:
                return None

            await self.app(scope, receive, discard)
        if fault in (Fault.HANG, Fault.LOST_ANSWER):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wait_for_disconnect(receive), self.rates.hang_seconds)
        await close_connection(receive)
