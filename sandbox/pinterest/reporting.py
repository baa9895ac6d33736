"""Analytics rows and async report files, shaped as Pinterest returns them.

Synchronous analytics (``GET .../campaigns/analytics`` etc.) answer a JSON array with one object per entity per
``DATE`` bucket: ``DATE`` (unless granularity is TOTAL), the entity's id column (``CAMPAIGN_ID``, ``AD_GROUP_ID``,
``AD_ID`` or ``AD_ACCOUNT_ID``; left out with ``aggregate_report_rows=true``) and the requested columns that have a
value other than 0 (Pinterest leaves zero-valued metrics out). Only entity-days with delivery rows in the dataset
appear, and not those whose requested metrics are all 0 (restated to nothing).

Async report files (the ``url`` of a FINISHED report):

- **JSON** (``report_format`` JSON, the default) - one object keyed by the reporting entity's id (``primary_sort``
  BY_ID, the default) or by ``DATE`` (BY_DATE), each value the list of that key's rows:
  ``{"<campaign id>": [{"DATE": "2025-06-01", "CAMPAIGN_ID": "<id>", "SPEND_IN_MICRO_DOLLAR": 1200000, ...}]}``.
  Rows carry ``DATE`` (granularity other than TOTAL), the level's id column (``ADVERTISER_ID``, ``CAMPAIGN_ID``,
  ``AD_GROUP_ID`` or ``PIN_PROMOTION_ID``) and the requested columns; metrics without a value or with the value 0
  are left out (not zero-filled).
- **CSV** - a header line ``DATE`` (unless TOTAL), the level's id column, then the requested columns in request
  order; one line per row; metrics zero-filled, attributes without a value empty.

In both formats rows whose requested metrics are all 0 are omitted (the spec's ``report_format`` note). This is
the structure Pinterest's JSON reports have (entity id -> list of row objects, as consumed by e.g. Airbyte's
Pinterest source); the CSV layout follows the spec's description.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

from sandbox.pinterest.analytics import bucket, id_order, metric_value
from sandbox.pinterest.wire import invalid
from sandbox.pinterest.world import PinterestWorld

SYNC_LOOKBACK_DAYS = 90  # "you can pull data from up to 90 days before the current date"
SYNC_MAX_RANGE_DAYS = 90  # "end_date ... Cannot be more than 90 days past start_date"
REPORT_LOOKBACK_DAYS = 914  # async reports: "up to 914 days before the current date"
REPORT_MAX_RANGE_DAYS = 186  # "with a maximum time range of 186 days"

# Report levels the sandbox computes, with the id column of their rows.
REPORT_LEVELS = {
    "ADVERTISER": "ADVERTISER_ID",
    "CAMPAIGN": "CAMPAIGN_ID",
    "AD_GROUP": "AD_GROUP_ID",
    "PIN_PROMOTION": "PIN_PROMOTION_ID",
}
ATTRIBUTE_COLUMNS = frozenset(
    {
        "AD_ACCOUNT_ID",
        "ADVERTISER_ID",
        "CAMPAIGN_ID",
        "CAMPAIGN_NAME",
        "CAMPAIGN_ENTITY_STATUS",
        "CAMPAIGN_OBJECTIVE_TYPE",
        "AD_GROUP_ID",
        "AD_GROUP_NAME",
        "AD_GROUP_ENTITY_STATUS",
        "AD_ID",
        "PIN_PROMOTION_ID",
        "AD_NAME",
        "PIN_ID",
    }
)
# Summary statuses (report filters) of entities whose dataset object has no ``summary_status``.
_CAMPAIGN_SUMMARY = {"ACTIVE": "RUNNING", "PAUSED": "PAUSED", "ARCHIVED": "ARCHIVED"}
_AD_SUMMARY = {"ACTIVE": "APPROVED", "PAUSED": "PAUSED", "ARCHIVED": "ARCHIVED"}


def check_sync_range(start: dt.date, end: dt.date, today: dt.date, granularity: str) -> None:
    """The synchronous analytics endpoints' date limits (non-HOUR granularity), answered as Pinterest does."""
    if granularity == "HOUR":
        raise invalid("granularity: HOUR is not emulated (the sandbox's dataset holds daily rows)")
    if end < start:
        raise invalid("end_date: must not be before start_date")
    if start < today - dt.timedelta(days=SYNC_LOOKBACK_DAYS):
        raise invalid("You can only get data from the last 90 days.")
    if (end - start).days > SYNC_MAX_RANGE_DAYS:
        raise invalid(f"end_date: cannot be more than {SYNC_MAX_RANGE_DAYS} days past start_date")


def check_report_range(start: dt.date, end: dt.date, today: dt.date, granularity: str) -> None:
    """The async report's date limits (non-HOUR granularity)."""
    if granularity == "HOUR":
        raise invalid("granularity: HOUR is not emulated (the sandbox's dataset holds daily rows)")
    if end < start:
        raise invalid("end_date: must not be before start_date")
    if start < today - dt.timedelta(days=REPORT_LOOKBACK_DAYS):
        raise invalid(f"start_date: reports can pull data from up to {REPORT_LOOKBACK_DAYS} days before today")
    if (end - start).days + 1 > REPORT_MAX_RANGE_DAYS:
        raise invalid(f"end_date: the maximum time range of a report is {REPORT_MAX_RANGE_DAYS} days")


def attribute(world: PinterestWorld, level: str, key: str, column: str) -> str | None:
    """An entity attribute column of a row at ``level`` (CAMPAIGN, AD_GROUP, AD, ADVERTISER) for entity ``key``."""
    if column in ("AD_ACCOUNT_ID", "ADVERTISER_ID"):
        return world.ad_account_id
    hierarchy = world.metrics.hierarchy
    ad_id = key if level == "AD" else None
    ad_group_id = hierarchy.ad_group_of.get(key) if level == "AD" else key if level == "AD_GROUP" else None
    if level == "AD":
        campaign_id = hierarchy.campaign_of.get(key)
    elif level == "AD_GROUP":
        campaign_id = str(world.ad_groups.get(key, {}).get("campaign_id") or "") or None
    else:
        campaign_id = key if level == "CAMPAIGN" else None
    campaign = world.campaigns.get(campaign_id or "", {})
    ad_group = world.ad_groups.get(ad_group_id or "", {})
    ad = world.ads.get(ad_id or "", {})
    value = {
        "CAMPAIGN_ID": campaign_id,
        "CAMPAIGN_NAME": campaign.get("name"),
        "CAMPAIGN_ENTITY_STATUS": campaign.get("status"),
        "CAMPAIGN_OBJECTIVE_TYPE": campaign.get("objective_type"),
        "AD_GROUP_ID": ad_group_id,
        "AD_GROUP_NAME": ad_group.get("name"),
        "AD_GROUP_ENTITY_STATUS": ad_group.get("status"),
        "AD_ID": ad_id,
        "PIN_PROMOTION_ID": ad_id,
        "AD_NAME": ad.get("name"),
        "PIN_ID": ad.get("pin_id"),
    }.get(column)
    return None if value is None else str(value)


def render(
    world: PinterestWorld,
    level: str,
    key: str | None,
    key_column: str | None,
    day: dt.date | None,
    metrics: dict[str, int | float],
    columns: Iterable[str],
    *,
    zero_fill: bool = False,
) -> dict[str, Any]:
    """One row: ``DATE``, the id column, then each requested column that has a non-zero value (or 0 with
    ``zero_fill``): like the real API ("If a column has no value, it may not be returned"), a metric that is 0 is
    left out of sync answers and JSON reports (which "will not zero-fill")."""
    row: dict[str, Any] = {}
    if day is not None:
        row["DATE"] = day.isoformat()
    if key_column is not None and key is not None:
        row[key_column] = key
    for column in columns:
        if column in row:
            continue
        if column in ATTRIBUTE_COLUMNS:
            value: Any = attribute(world, level, key, column) if key is not None else None
            if value is None and column in ("AD_ACCOUNT_ID", "ADVERTISER_ID"):
                value = world.ad_account_id
            if value is not None or zero_fill:
                row[column] = value if value is not None else ""
            continue
        value = metric_value(column, metrics)
        if value:  # Pinterest leaves out a metric whose value is 0 (or none) ...
            row[column] = value
        elif zero_fill:  # ... except in CSV files, which have a cell for every column
            row[column] = 0
    return row


def analytics_rows(
    world: PinterestWorld,
    *,
    level: str,
    key_column: str,
    key_of: Callable[[str], str | None],
    start: dt.date,
    end: dt.date,
    granularity: str,
    columns: list[str],
    aggregate: bool = False,
) -> list[dict[str, Any]]:
    """The body of a synchronous analytics request (see module doc)."""
    select = (lambda ad_id: "ALL" if key_of(ad_id) is not None else None) if aggregate else key_of
    sums = world.metrics.rollup(select, start, end, world.today, granularity)
    metric_columns = [column for column in columns if column not in ATTRIBUTE_COLUMNS]
    rows = []
    for (key, day), metrics in sorted(sums.items(), key=lambda item: (id_order(item[0][0]), item[0][1] or start)):
        if metric_columns and not any(metric_value(column, metrics) for column in metric_columns):
            continue  # no delivery left (e.g. restated to nothing): the entity-day is not reported at all
        if aggregate:
            rows.append(render(world, level, None, None, day, metrics, columns))
        else:
            rows.append(render(world, level, key, key_column, day, metrics, columns))
    return rows


def summary_status(entity: dict[str, Any], mapping: dict[str, str]) -> str | None:
    if entity.get("summary_status"):
        return str(entity["summary_status"])
    return mapping.get(str(entity.get("status", "")))


def report_selection(world: PinterestWorld, request: dict[str, Any]) -> Callable[[str], bool]:
    """Whether an ad is in an async report, from the request's id and status filters."""
    hierarchy = world.metrics.hierarchy
    campaign_ids = set(request.get("campaign_ids") or [])
    ad_group_ids = set(request.get("ad_group_ids") or [])
    ad_ids = set(request.get("ad_ids") or [])
    campaign_statuses = set(request.get("campaign_statuses") or [])
    ad_group_statuses = set(request.get("ad_group_statuses") or [])
    ad_statuses = set(request.get("ad_statuses") or [])

    def selected(ad_id: str) -> bool:
        campaign_id, ad_group_id = hierarchy.campaign_of.get(ad_id), hierarchy.ad_group_of.get(ad_id)
        if campaign_ids and campaign_id not in campaign_ids:
            return False
        if ad_group_ids and ad_group_id not in ad_group_ids:
            return False
        if ad_ids and ad_id not in ad_ids:
            return False
        if campaign_statuses and (
            summary_status(world.campaigns.get(campaign_id or "", {}), _CAMPAIGN_SUMMARY) not in campaign_statuses
        ):
            return False
        if ad_group_statuses and (
            summary_status(world.ad_groups.get(ad_group_id or "", {}), _CAMPAIGN_SUMMARY) not in ad_group_statuses
        ):
            return False
        return not (ad_statuses and summary_status(world.ads.get(ad_id, {}), _AD_SUMMARY) not in ad_statuses)

    return selected


def report_file(world: PinterestWorld, request: dict[str, Any]) -> tuple[bytes, str, str]:
    """Generate an async report's file from its (validated) request: ``(content, media type, extension)``."""
    level = request["level"]
    key_column = REPORT_LEVELS[level]
    granularity = request["granularity"]
    start, end = dt.date.fromisoformat(request["start_date"]), dt.date.fromisoformat(request["end_date"])
    columns = [column for column in request["columns"] if column not in ("DATE", key_column)]
    selected = report_selection(world, request)
    hierarchy = world.metrics.hierarchy
    key_of = {
        "ADVERTISER": lambda ad_id: world.ad_account_id,
        "CAMPAIGN": hierarchy.campaign_of.get,
        "AD_GROUP": hierarchy.ad_group_of.get,
        "PIN_PROMOTION": lambda ad_id: ad_id,
    }[level]
    row_level = {"PIN_PROMOTION": "AD"}.get(level, level)
    sums = world.metrics.rollup(
        lambda ad_id: key_of(ad_id) if selected(ad_id) else None, start, end, world.today, granularity
    )
    metric_columns = [column for column in columns if column not in ATTRIBUTE_COLUMNS]
    entries = []
    for (key, day), metrics in sorted(sums.items(), key=lambda item: (id_order(item[0][0]), item[0][1] or start)):
        if not any(metric_value(column, metrics) for column in metric_columns):
            continue
        entries.append((key, day, metrics))
    broken = world.answer_faults.apply(entries)
    if broken is None:
        return b"null", "application/json", "json"
    entries = broken
    if request.get("report_format", "JSON") == "CSV":
        out = io.StringIO()
        header = (["DATE"] if bucket(start, granularity) is not None else []) + [key_column, *columns]
        writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for key, day, metrics in entries:
            writer.writerow(render(world, row_level, key, key_column, day, metrics, columns, zero_fill=True))
        return out.getvalue().encode(), "text/csv", "csv"
    by_date = request.get("primary_sort") == "BY_DATE" and granularity != "TOTAL"
    document: dict[str, list[dict[str, Any]]] = {}
    ordered = sorted(entries, key=lambda entry: (entry[1] or start, id_order(entry[0]))) if by_date else entries
    for key, day, metrics in ordered:
        group = day.isoformat() if by_date and day is not None else key
        document.setdefault(group, []).append(render(world, row_level, key, key_column, day, metrics, columns))
    return json.dumps(document, separators=(",", ":")).encode(), "application/json", "json"
