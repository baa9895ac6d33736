"""Client-side API budgets: wait *before* a call rather than be answered 429 after it."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most ``limit`` calls in any rolling ``period`` seconds (how HubSpot and Pinterest count).

    Thread-safe; ``acquire`` blocks until the call fits and returns the seconds it waited, so hooks can report
    how much of a run was spent waiting on the budget. Within one process it is shared by every thread of a
    hook; across tasks, the Airflow pools (``hubspot_api``, ``pinterest_api``) bound how many run at once.
    """

    def __init__(
        self,
        limit: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError(f"a rate limit needs limit >= 1 and period > 0, got {limit}/{period}s")
        self.limit, self.period = limit, period
        self._clock, self._sleep = clock, sleep
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._calls and self._calls[0] <= now - self.period:
                    self._calls.popleft()
                if len(self._calls) < self.limit:
                    self._calls.append(now)
                    return waited
                delay = self._calls[0] + self.period - now
            self._sleep(delay)
            waited += delay
