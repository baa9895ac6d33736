"""Time in the generated world: day indexes of the history window in the account's timezone, and HubSpot's
instant format. Everything is derived from ``today``, never from the wall clock, so a seed always gives the same
files.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from zoneinfo import ZoneInfo

from sandbox.generate.config import TIMEZONE
from sandbox.generate.knobs import HISTORY_DAYS

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


class _Clock:
    """Day indexes of the history window (0 = today - HISTORY_DAYS, last = today - 1) and instant formatting."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.first_day = today - dt.timedelta(days=HISTORY_DAYS)
        self.now_ms = _ms(dt.datetime.combine(today, dt.time(), dt.UTC))
        zone = ZoneInfo(TIMEZONE)
        # local (account timezone) midnight of every window day, in UTC epoch ms; one extra for the end of the last day
        self.day_start_ms = [
            _ms(dt.datetime.combine(self.first_day + dt.timedelta(days=i), dt.time(), zone))
            for i in range(HISTORY_DAYS + 1)
        ]

    def date(self, day: int) -> dt.date:
        return self.first_day + dt.timedelta(days=day)

    def local_ms(self, day: int) -> int:
        """Local midnight of a day index, also outside the window (campaigns that started before it)."""
        if 0 <= day <= HISTORY_DAYS:
            return self.day_start_ms[day]
        return self.day_start_ms[0] + day * DAY_MS

    def instant_in_day(self, rng: random.Random, day: int, first_hour: int = 6) -> int:
        """A random instant of a local day between first_hour and midnight, never at or after now."""
        start = self.local_ms(day) + first_hour * HOUR_MS
        end = min(self.local_ms(day) + 24 * HOUR_MS, self.now_ms)
        return rng.randrange(start, end) if end > start else end - 1


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1000


def _iso(ms: int) -> str:
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
