"""Ad spend and delivery metrics as Pinterest reports them: per ad per day, rolled up, provisional near "today".

The dataset's ``pinterest/analytics.jsonl`` holds one final row per ad per day in API column names. Reading it
through ``Metrics`` adds what a real account shows:

- **Late data**: a day is provisional while it is one of the last ``PROVISIONAL_DAYS`` days before "today" (or
  "today" itself): every metric is reported at ``PROVISIONAL_SHARE`` (80 %, integers rounded down) of its final
  value. When the clock advances past it the full value is reported: a sum taken earlier is restated. Days after
  "today" have not happened yet and are not reported at all. ``/v5/resources/metrics_ready_state`` tells which days
  are final.
- **Restatement**: ``restate`` replaces an ad's metrics for a day (``POST /_sandbox/pinterest/restate``).
- **Roll-up**: campaign, ad group and account rows are sums of their ads' rows (docs/design.md); derived columns
  (``SPEND_IN_DOLLAR``, CPC, CPM, CTR) are computed from the sums. Conversion columns are served as the dataset has
  them whatever the attribution windows asked (the windows are validated, not applied).

A requested column with no value (not in the dataset, not derivable) or with the value 0 is left out of the row, as
the real API does ("If a column has no value, it may not be returned").
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

PROVISIONAL_DAYS = 2
PROVISIONAL_SHARE = Fraction(4, 5)

ID_COLUMNS = ("AD_ID", "AD_GROUP_ID", "CAMPAIGN_ID")
GRANULARITIES = ("TOTAL", "DAY", "HOUR", "WEEK", "MONTH")


def id_order(value: str) -> tuple[int, int | str]:
    """Sort key putting numeric ids in numeric order (Pinterest ids are digit strings of varying length)."""
    return (0, int(value)) if value.isdigit() else (1, value)


def is_final(day: dt.date, today: dt.date) -> bool:
    """Metrics of ``day`` are final once it is more than ``PROVISIONAL_DAYS`` days before ``today``."""
    return day < today - dt.timedelta(days=PROVISIONAL_DAYS)


def provisional(value: int | float) -> int | float:
    if isinstance(value, int):
        return value * PROVISIONAL_SHARE.numerator // PROVISIONAL_SHARE.denominator
    return value * float(PROVISIONAL_SHARE)


def _is_metric(name: str, value: Any) -> bool:
    return name not in ID_COLUMNS and name != "DATE" and isinstance(value, int | float) and not isinstance(value, bool)


def bucket(day: dt.date, granularity: str) -> dt.date | None:
    """The ``DATE`` a day is reported under: itself (DAY), its ISO week's Monday (WEEK), its month's first day."""
    if granularity == "DAY":
        return day
    if granularity == "WEEK":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "MONTH":
        return day.replace(day=1)
    return None  # TOTAL: one row for the whole range, without DATE


@dataclass(frozen=True)
class Hierarchy:
    """Which ad group and campaign an ad belongs to (from ads.jsonl, else from its analytics rows)."""

    ad_group_of: dict[str, str]
    campaign_of: dict[str, str]


class Metrics:
    """The final per-ad-per-day metrics (thread-safe: restatements arrive while reads run).

    Rows are indexed by ad id, then day, so a request costs one ``key_of`` call per ad plus the rows of the ads it
    selects, never a scan or sort of every stored row (a big world holds 20,000 ads x 90 days)."""

    def __init__(self, rows: Iterable[dict[str, Any]], ads: Iterable[dict[str, Any]]) -> None:
        self._lock = threading.Lock()
        self._ads: dict[str, dict[dt.date, dict[str, int | float]]] = {}  # ad id -> day -> metrics
        self._ordered: list[str] | None = None  # the ad ids in id order; rebuilt when a restatement adds an ad
        ad_group_of: dict[str, str] = {}
        campaign_of: dict[str, str] = {}
        for ad in ads:
            ad_group_of[str(ad["id"])] = str(ad.get("ad_group_id"))
            campaign_of[str(ad["id"])] = str(ad.get("campaign_id"))
        for number, row in enumerate(rows, start=1):
            try:
                ad_id, day = str(row["AD_ID"]), dt.date.fromisoformat(str(row["DATE"]))
            except (KeyError, ValueError) as error:
                raise ValueError(f"pinterest/analytics.jsonl line {number}: needs AD_ID and DATE ({error})") from error
            ad_group_of.setdefault(ad_id, str(row.get("AD_GROUP_ID")))
            campaign_of.setdefault(ad_id, str(row.get("CAMPAIGN_ID")))
            metrics = {name: value for name, value in row.items() if _is_metric(name, value)}
            self._ads.setdefault(ad_id, {})[day] = metrics
        self.hierarchy = Hierarchy(ad_group_of, campaign_of)

    def restate(self, ad_id: str, day: dt.date, values: dict[str, int | float]) -> dict[str, int | float]:
        """Replace some metrics of an ad's day (creating the day); return the day's final metrics."""
        with self._lock:
            if ad_id not in self._ads:
                self._ordered = None
            row = self._ads.setdefault(ad_id, {}).setdefault(day, {})
            row.update(values)
            return dict(row)

    def final(self, ad_id: str, day: dt.date) -> dict[str, int | float] | None:
        with self._lock:
            row = self._ads.get(ad_id, {}).get(day)
            return dict(row) if row is not None else None

    def reported(self, start: dt.date, end: dt.date, today: dt.date) -> Iterator[tuple[str, dt.date, dict[str, Any]]]:
        """``(ad_id, day, metrics)`` as the API reports them on ``today`` for days in ``[start, end]``."""
        for _, ad_id, day, row in self._selected(lambda ad_id: ad_id, start, end, today):
            yield ad_id, day, row

    def rollup(
        self,
        key_of: Callable[[str], str | None],
        start: dt.date,
        end: dt.date,
        today: dt.date,
        granularity: str,
    ) -> dict[tuple[str, dt.date | None], dict[str, int | float]]:
        """Sums per ``(key, DATE bucket)``; ``key_of(ad_id)`` maps an ad to its entity (None: not selected)."""
        sums: dict[tuple[str, dt.date | None], dict[str, int | float]] = {}
        for key, _, day, row in self._selected(key_of, start, end, today):
            total = sums.setdefault((key, bucket(day, granularity)), {})
            for name, value in row.items():
                total[name] = total.get(name, 0) + value
        return sums

    def _selected(
        self, key_of: Callable[[str], str | None], start: dt.date, end: dt.date, today: dt.date
    ) -> Iterator[tuple[str, str, dt.date, dict[str, Any]]]:
        """``(key, ad_id, day, metrics)`` as reported on ``today``, in ad id then day order, for the ads whose
        ``key_of`` (asked once per ad) is not None."""
        last = min(end, today)
        if last < start:
            return
        span = [start + dt.timedelta(days=n) for n in range((last - start).days + 1)]
        with self._lock:
            if self._ordered is None:
                self._ordered = sorted(self._ads, key=id_order)
            ordered = self._ordered  # replaced, never changed in place: safe to read without the lock
        keys = [(key, ad_id) for ad_id in ordered if (key := key_of(ad_id)) is not None]
        with self._lock:
            rows = [(key, ad_id, _days_in(self._ads[ad_id], span)) for key, ad_id in keys]
        for key, ad_id, days in rows:
            for day, row in days:
                if not is_final(day, today):
                    row = {name: provisional(value) for name, value in row.items()}
                yield key, ad_id, day, row


def _days_in(days: dict[dt.date, dict[str, int | float]], span: list[dt.date]) -> list[tuple[dt.date, dict[str, Any]]]:
    """Copies of an ad's rows for the days of ``span`` (consecutive days), in day order."""
    if len(span) <= len(days):
        return [(day, dict(row)) for day in span if (row := days.get(day)) is not None]
    first, last = span[0], span[-1]
    return sorted(((day, dict(row)) for day, row in days.items() if first <= day <= last), key=lambda item: item[0])


def derived(name: str, metrics: dict[str, int | float]) -> int | float | None:
    """Columns computed from summed metrics; None when the inputs are absent (or a rate's base is zero)."""
    spend = metrics.get("SPEND_IN_MICRO_DOLLAR")
    clicks = metrics.get("TOTAL_CLICKTHROUGH")
    impressions = metrics.get("PAID_IMPRESSION")
    if name == "SPEND_IN_DOLLAR" and spend is not None:
        return spend / 1_000_000
    if name in ("CPC_IN_MICRO_DOLLAR", "ECPC_IN_MICRO_DOLLAR") and spend is not None and clicks:
        return spend / clicks
    if name == "ECPC_IN_DOLLAR" and spend is not None and clicks:
        return spend / clicks / 1_000_000
    if name in ("CPM_IN_MICRO_DOLLAR", "ECPM_IN_MICRO_DOLLAR") and spend is not None and impressions:
        return spend / impressions * 1000
    if name == "CPM_IN_DOLLAR" and spend is not None and impressions:
        return spend / impressions * 1000 / 1_000_000
    if name in ("CTR", "ECTR") and clicks is not None and impressions:
        return clicks / impressions
    return None


def metric_value(name: str, metrics: dict[str, int | float]) -> int | float | None:
    if name in metrics:
        return metrics[name]
    return derived(name, metrics)
