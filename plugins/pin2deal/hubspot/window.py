"""Which modification window a ``hubspot_deals`` run reads: the high-water-mark contract (pure rules, no I/O).

The mark is the end of the last completed read. A scheduled (or manual) run reads from the mark minus an overlap
to its end, so intervals the scheduler skipped (downtime, ``catchup=False``, runs held back by
``max_active_runs``) or whose run failed are covered by the next success, and a deal HubSpot's search index
showed late (it lags writes) is still inside the next window. The upsert makes the re-read overlap free. Only an
explicit backfill re-reads exactly its own data interval and leaves the mark alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
BACKFILL = "backfill"


@dataclass(frozen=True)
class ReadWindow:
    """``[start, end)`` on ``hs_lastmodifieddate``; ``advances_mark``: a completed read moves the mark to ``end``."""

    start: dt.datetime
    end: dt.datetime
    advances_mark: bool
    why: str

    @property
    def empty(self) -> bool:
        return self.end <= self.start

    @property
    def scope(self) -> str:
        """The watermark scope of this read: a retry of the same window resumes where the last attempt stopped."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"


def read_window(
    *,
    run_type: str,
    interval_start: dt.datetime | None,
    interval_end: dt.datetime | None,
    run_after: dt.datetime,
    since: dt.date | None,
    mark: dt.datetime | None,
    overlap: dt.timedelta,
    index_lag: dt.timedelta,
) -> ReadWindow:
    """The window of an incremental run (see the module docstring).

    ``interval_*`` are None for a manual run triggered without a logical date: it reads up to ``run_after`` (when
    it was triggered, stable across retries) minus the index lag, so it never waits for the index; the next run's
    overlap covers what the index had not shown yet. Without a mark (the first run ever) a run reads its interval,
    or every deal when it has none.
    """
    if (interval_start is None) != (interval_end is None):
        raise ValueError("a data interval needs both its start and its end")
    end = interval_end if interval_end is not None else run_after - index_lag
    if run_type == BACKFILL:
        if interval_start is None or interval_end is None:
            raise ValueError("a backfill run has a data interval; this one has none")
        start = _since(since) if since is not None else interval_start
        return ReadWindow(start, end, advances_mark=False, why="backfill: exactly its own interval")
    if since is not None:
        start = _since(since)
        # Reading from `since` completes everything up to `end` only if it starts at or before the mark.
        return ReadWindow(start, end, advances_mark=mark is None or start <= mark, why=f"since {since.isoformat()}")
    if mark is not None:
        return ReadWindow(mark - overlap, end, advances_mark=True, why=f"from the mark {mark.isoformat()} - {overlap}")
    if interval_start is not None:
        return ReadWindow(interval_start, end, advances_mark=True, why="no mark yet: its data interval")
    return ReadWindow(EPOCH, end, advances_mark=True, why="no mark yet and no data interval: every deal")


def _since(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
