"""The sandbox ASGI app: one FastAPI server with HubSpot's and Pinterest's paths side by side.

Each API package (``sandbox.hubspot``, ``sandbox.pinterest``) exposes ``install(app, sandbox)``, which builds
its in-memory state from the dataset and registers its routes, including its own ``/_sandbox/...``
mutations. What they share (the dataset, the clock and the fault generators) is ``sandbox.state.Sandbox``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from email.utils import format_datetime

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import hubspot, llm, pinterest, slack
from sandbox.dataset import Dataset
from sandbox.settings import SandboxSettings
from sandbox.state import Sandbox


class SandboxDateHeader:
    """Send the sandbox's clock as the HTTP ``Date`` header (servers run with uvicorn's own header off).

    Clients read "today" from ``Date`` as from the real APIs, so a saved dataset answers consistently on any day.
    """

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app, self.sandbox = app, sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", []) if name.lower() != b"date"]
                stamp = format_datetime(self.sandbox.now(), usegmt=True).encode()
                message = {**message, "headers": [*headers, (b"date", stamp)]}
            await send(message)

        await self.app(scope, receive, send_with_date)


def create_app(settings: SandboxSettings, dataset: Dataset | None = None) -> FastAPI:
    sandbox = Sandbox(settings, dataset or Dataset.load(settings.data_dir))
    app = FastAPI(title="pin2deal sandbox", docs_url="/_sandbox/docs", openapi_url="/_sandbox/openapi.json")
    app.state.sandbox = sandbox
    app.add_middleware(SandboxDateHeader, sandbox=sandbox)

    latency = settings.faults.latency_ms / 1000
    if latency:

        @app.middleware("http")
        async def add_latency(request: Request, call_next):
            await asyncio.sleep(latency)
            return await call_next(request)

    @app.get("/_sandbox/clock")
    def clock() -> dict[str, str]:
        return {"today": sandbox.today.isoformat()}

    @app.post("/_sandbox/clock/advance")
    def advance(days: int = 1) -> dict[str, str]:
        sandbox.today += dt.timedelta(days=days)
        return {"today": sandbox.today.isoformat()}

    hubspot.install(app, sandbox)
    pinterest.install(app, sandbox)
    slack.install(app, sandbox)
    llm.install(app, sandbox)
    return app
