"""Rate-limit windows and seeded fault injection shared by both emulated APIs.

Each API decides what a limit or a fault looks like on the wire (its own 429 and error bodies); these
classes only decide *whether* a request is limited or faulted, deterministically for a given seed.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum

from sandbox.settings import FaultRates


class SlidingWindow:
    """At most ``limit`` requests in any ``seconds``-long window (a rolling window, as HubSpot's)."""

    def __init__(self, limit: int, seconds: float, now: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.seconds, self._now = limit, seconds, now
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._hits and self._hits[0] <= now - self.seconds:
            self._hits.popleft()

    def try_acquire(self) -> float | None:
        """Take one slot; return None when granted, else the seconds until a slot frees up."""
        with self._lock:
            now = self._now()
            self._expire(now)
            if len(self._hits) < self.limit:
                self._hits.append(now)
                return None
            return max(self._hits[0] + self.seconds - now, 0.001)

    def remaining(self) -> int:
        with self._lock:
            self._expire(self._now())
            return max(self.limit - len(self._hits), 0)


class Fault(Enum):
    SERVER_ERROR = "server_error"
    RATE_LIMIT = "rate_limit"
    DROP_CONNECTION = "drop_connection"
    HANG = "hang"
    LOST_ANSWER = "lost_answer"  # processed, but the answer never reaches the client (scripted only)


class FaultInjector:
    """Draws faults from one seeded generator so a run with the same seed and requests fails the same way."""

    def __init__(self, rates: FaultRates, seed: int) -> None:
        self.rates = rates
        self._random = random.Random(seed)
        self._burst_left = 0
        self._scripted: deque[tuple[str, Fault | None]] = deque()
        self._lock = threading.Lock()

    def script(self, path_prefix: str, faults: list[Fault | None]) -> None:
        """Queue ``faults`` (``None``: let one request through) for the next requests whose path starts with
        ``path_prefix``, in order and before any random draw: a test states exactly which request fails how."""
        with self._lock:
            self._scripted.extend((path_prefix, fault) for fault in faults)

    def draw(self, path: str = "") -> Fault | None:
        with self._lock:
            if self._scripted and path.startswith(self._scripted[0][0]):
                return self._scripted.popleft()[1]
            if self._burst_left:
                self._burst_left -= 1
                return Fault.RATE_LIMIT
            roll = self._random.random()
            for fault, rate in (
                (Fault.SERVER_ERROR, self.rates.server_error),
                (Fault.RATE_LIMIT, self.rates.rate_limit_burst),
                (Fault.DROP_CONNECTION, self.rates.drop_connection),
                (Fault.HANG, self.rates.hang),
            ):
                if roll < rate:
                    if fault is Fault.RATE_LIMIT:
                        self._burst_left = max(self.rates.burst_length - 1, 0)
                    return fault
                roll -= rate
            return None
