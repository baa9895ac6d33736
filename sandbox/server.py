"""Run the sandbox in a background thread on a free loopback port (tests, the demo and benchmarks)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import uvicorn

from sandbox.app import create_app
from sandbox.dataset import Dataset
from sandbox.settings import SandboxSettings


class SandboxServer:
    """``with SandboxServer(settings) as server: ... server.url ...``; ``server.app.state.sandbox`` is the world."""

    def __init__(self, settings: SandboxSettings, dataset: Dataset | None = None, port: int = 0) -> None:
        self.app = create_app(settings, dataset)
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", date_header=False
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)

    @property
    def port(self) -> int:
        return self._server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True  # do not wait for idle keep-alive connections of the clients
        self._thread.join(timeout=10)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
