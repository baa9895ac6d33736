"""Pinterest spend into the warehouse: which days a run pulls, how API rows become ``raw.pinterest_*`` rows, and
the loads (COPY + one upsert per batch, ``pin2deal.hooks.warehouse.copy_upsert``).

Days are the ad account's local days: Pinterest reports ``DATE`` in the account's time zone. A data interval
covers every local day it overlaps, so a daily UTC interval of an account west of UTC covers two days; the
lookback re-pulls them anyway. Restated and not-yet-final days are handled by re-pulling (``plan_days``) and by
replacing what a pull covered (``load_ad_days``), never by adding.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import Connection, Rollback

from pin2deal.hooks.pinterest import (
    REPORT_MAX_DAYS_BACK,
    SYNC_MAX_DAYS_BACK,
)
from pin2deal.hooks.warehouse import copy_upsert, replace_record_issues
from pin2deal.paths import SQL_DIR

# The analytics columns pulled (valid for the sync endpoint and for async reports) and where they land.
METRIC_COLUMNS: dict[str, str] = {
    "SPEND_IN_MICRO_DOLLAR": "spend_micro",
    "PAID_IMPRESSION": "impressions",
    "TOTAL_CLICKTHROUGH": "clicks",
    "TOTAL_CHECKOUT": "checkouts",
    "TOTAL_CLICK_CHECKOUT": "click_checkouts",
    "TOTAL_VIEW_CHECKOUT": "view_checkouts",
}
ANALYTICS_COLUMNS: tuple[str, ...] = ("AD_ID", *METRIC_COLUMNS, "AD_GROUP_ID", "CAMPAIGN_ID")

AD_DAILY = "raw.pinterest_ad_daily"
AD_DAILY_COLUMNS = (
    "ad_id",
    "date",
    "ad_account_id",
    "ad_group_id",
    "campaign_id",
    *METRIC_COLUMNS.values(),
    "spend",
    "currency",
    "provisional",
    "metrics",
)
AD_DAILY_SOURCE = "pinterest.ad_daily"
CHANGED = "loaded_at = now(), run_id = current_setting('pin2deal.run_id', true)"
DELETE_UNREPORTED = (SQL_DIR / "pinterest" / "delete_unreported_ad_days.sql").read_text(encoding="utf-8")
COUNT_SCOPE = (
    "SELECT count(*) FROM raw.pinterest_ad_daily "
    "WHERE ad_id = ANY(%(ad_ids)s::text[]) AND date BETWEEN %(start_date)s AND %(end_date)s"
)
# Two pulls of overlapping days at once (a backfill next to the schedule) would both count a scope empty and COPY
# the same keys (the second fails on the primary key), or count rows the other is about to replace: one ad-day load
# at a time, for the length of its transaction.
ONE_LOAD_AT_A_TIME = "SELECT pg_advisory_xact_lock(hashtextextended('pin2deal.raw.pinterest_ad_daily', 0))"
DELETION_REASON = "not reported by Pinterest for the ads and days pulled"
# Issue keys are '<ad id>/<YYYY-MM-DD>' (ISO dates compare as text).
ISSUES_IN_SCOPE = (
    "SELECT record_key FROM ops.record_issues WHERE source = %(source)s "
    "AND split_part(record_key, '/', 1) = ANY(%(ad_ids)s::text[]) "
    "AND split_part(record_key, '/', 2) BETWEEN %(start_date)s::text AND %(end_date)s::text"
)

Issue = tuple[str, str, str, str | None]  # record_key, field, reason, raw value


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]


def interval_days(start: dt.datetime, end: dt.datetime, timezone: ZoneInfo) -> tuple[dt.date, dt.date]:
    """First and last local day a data interval ``[start, end)`` overlaps in the ad account's time zone."""
    first = start.astimezone(timezone).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(timezone).date() if end > start else first
    return first, max(first, last)


def last_complete_day(now: dt.datetime, timezone: ZoneInfo) -> dt.date:
    """The ad account's last complete local day at ``now``: what a run without a data interval (a manual trigger
    without a logical date) pulls, with its lookback."""
    return now.astimezone(timezone).date() - dt.timedelta(days=1)


@dataclass(frozen=True)
class DayPlan:
    """The days one run pulls, by the path Pinterest allows for their age on ``today`` (UTC, the API's clock)."""

    sync: tuple[dt.date, ...]  # recent enough for the synchronous analytics endpoint
    report: tuple[dt.date, ...]  # older: asynchronous reports only
    unreachable: tuple[dt.date, ...]  # older than Pinterest keeps analytics

    def describe(self) -> str:
        def span(days: Sequence[dt.date]) -> str:
            return f"{days[0]}..{days[-1]} ({len(days)})" if days else "none"

        return f"sync {span(self.sync)}, reports {span(self.report)}, out of reach {span(self.unreachable)}"


def plan_days(
    first: dt.date, last: dt.date, *, lookback_days: int, provisional: Iterable[dt.date], today: dt.date
) -> DayPlan:
    """The interval's days, the ``lookback_days`` before them (Pinterest restates the last 24-48 h) and every day
    up to the interval still stored as provisional; days after ``today`` have not been reported yet."""
    if lookback_days < 0:
        raise ValueError(f"lookback_days must be >= 0, got {lookback_days}")
    wanted = set(days_between(first - dt.timedelta(days=lookback_days), last))
    wanted |= {day for day in provisional if day <= last}
    wanted = {day for day in wanted if day <= today}
    # The API compares the requested dates with its own UTC date, which ``today`` is (the Date of its answers).
    ages = {day: (today - day).days for day in wanted}
    return DayPlan(
        sync=tuple(sorted(day for day, age in ages.items() if age <= SYNC_MAX_DAYS_BACK)),
        report=tuple(sorted(day for day, age in ages.items() if SYNC_MAX_DAYS_BACK < age <= REPORT_MAX_DAYS_BACK)),
        unreachable=tuple(sorted(day for day, age in ages.items() if age > REPORT_MAX_DAYS_BACK)),
    )


def date_windows(days: Sequence[dt.date], max_days: int) -> list[tuple[dt.date, dt.date]]:
    """The fewest ``[start, end]`` ranges of at most ``max_days`` days covering ``days`` (their span is pulled
    whole: re-pulling a day in a gap costs nothing, an extra request costs a call of the budget)."""
    if not days:
        return []
    first, last = min(days), max(days)
    windows = []
    while first <= last:
        end = min(first + dt.timedelta(days=max_days - 1), last)
        windows.append((first, end))
        first = end + dt.timedelta(days=1)
    return windows


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


# -- entities -------------------------------------------------------------------------------------------------------
ENTITY_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "campaigns": (
        "raw.pinterest_campaigns",
        ("campaign_id", "ad_account_id", "name", "status", "summary_status", "objective_type"),
    ),
    "ad_groups": (
        "raw.pinterest_ad_groups",
        ("ad_group_id", "ad_account_id", "campaign_id", "name", "status", "summary_status"),
    ),
    "ads": (
        "raw.pinterest_ads",
        ("ad_id", "ad_account_id", "campaign_id", "ad_group_id", "pin_id", "name", "status", "summary_status"),
    ),
}
ENTITY_SOURCES = {"campaigns": "pinterest.campaign", "ad_groups": "pinterest.ad_group", "ads": "pinterest.ad"}


def _timestamp(value: Any) -> dt.datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def begin_load(conn: Connection, run_id: str | None) -> None:
    """Name the run in the transaction (the tables' ``run_id`` defaults read it)."""
    conn.execute("SELECT set_config('pin2deal.run_id', %s, true)", (run_id or "",))


def load_entities(
    conn: Connection, kind: str, items: Sequence[dict[str, Any]], account_id: str, run_id: str | None
) -> int:
    """Upsert one page of campaigns, ad groups or ads (one transaction); return the rows inserted or changed.

    An item without an id cannot be keyed: it is reported in ``ops.record_issues`` with its raw JSON.
    """
    table, columns = ENTITY_TABLES[kind]
    id_column = columns[0]
    rows, keys, issues = [], [], []
    for number, item in enumerate(items):
        entity_id = _text(item.get("id"))
        if not entity_id:
            raw = json.dumps(item)[:2000]
            issues.append((f"{kind}:{item.get('name') or number}", "id", "missing id: row not loaded", raw))
            continue
        keys.append(entity_id)
        values = {
            "ad_account_id": _text(item.get("ad_account_id")) or account_id,
            "campaign_id": _text(item.get("campaign_id")),
            "ad_group_id": _text(item.get("ad_group_id")),
            "pin_id": _text(item.get("pin_id")),
            "name": _text(item.get("name")),
            "status": _text(item.get("status")),
            "summary_status": _text(item.get("summary_status")),
            "objective_type": _text(item.get("objective_type")),
            id_column: entity_id,
        }
        rows.append(
            (
                *(values[column] for column in columns),
                _timestamp(item.get("created_time")),
                _timestamp(item.get("updated_time")),
                json.dumps(item, separators=(",", ":")),
            )
        )
    with conn.transaction():
        begin_load(conn, run_id)
        changed = copy_upsert(
            conn,
            table,
            (*columns, "created_time", "updated_time", "raw"),
            rows,
            key=(id_column,),
            extra_updates=CHANGED,
        )
        replace_record_issues(conn, ENTITY_SOURCES[kind], keys + [key for key, *_ in issues], issues, run_id)
    return changed


def load_account(conn: Connection, account: dict[str, Any], timezone: str, run_id: str | None) -> None:
    with conn.transaction():
        begin_load(conn, run_id)
        copy_upsert(
            conn,
            "raw.pinterest_ad_accounts",
            ("ad_account_id", "name", "currency", "timezone", "raw"),
            [(str(account["id"]), account.get("name"), account["currency"], timezone, json.dumps(account))],
            key=("ad_account_id",),
            extra_updates=CHANGED,
        )


def ad_hierarchy(conn: Connection, account_id: str) -> dict[str, tuple[str | None, str | None]]:
    """Every ad of the account (any status) -> (ad group id, campaign id), as the last entity refresh saw it."""
    rows = conn.execute(
        "SELECT ad_id, ad_group_id, campaign_id FROM raw.pinterest_ads WHERE ad_account_id = %s ORDER BY ad_id",
        (account_id,),
    ).fetchall()
    return {ad_id: (ad_group_id, campaign_id) for ad_id, ad_group_id, campaign_id in rows}


def provisional_days(conn: Connection, account_id: str) -> list[dt.date]:
    rows = conn.execute(
        "SELECT DISTINCT date FROM raw.pinterest_ad_daily WHERE ad_account_id = %s AND provisional ORDER BY date",
        (account_id,),
    ).fetchall()
    return [day for (day,) in rows]


# -- ad days --------------------------------------------------------------------------------------------------------
@dataclass
class AdDayBatch:
    """Warehouse rows of one pull (ads x days) and the problems found in the API rows."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    unknown_ads: int = 0


def _count(value: Any) -> int | None:
    """An API integer metric (JSON may carry 12.0 or "12"); None when it is not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def money(micros: int | None) -> str | None:
    """Micro-units as an exact decimal string (``1234567`` -> ``"1.234567"``); metrics are never negative here."""
    return None if micros is None else f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


@dataclass
class AdDayRows:
    """Turns analytics rows (sync answers or report rows) into ``raw.pinterest_ad_daily`` rows, flagging bad ones.

    Flags, each in ``ops.record_issues`` under ``pinterest.ad_daily`` / ``<ad id>/<date>``: an ``AD_ID`` the entity
    refresh did not list (loaded with the row's own ad group and campaign: its spend is real); a non-integer metric
    (stored NULL); a negative spend or count (stored NULL, the value kept in ``metrics`` and in the issue). A row
    without a usable ``AD_ID`` or ``DATE`` cannot be keyed and is reported only.

    A metric the row leaves out (or sends as ``null``) is 0: Pinterest omits zero-valued metrics from analytics
    answers and JSON reports ("If a column has no value, it may not be returned"; reports "will not zero-fill").
    """

    account_id: str
    currency: str
    hierarchy: dict[str, tuple[str | None, str | None]]
    provisional_from: dt.date | None = None  # days on or after it are not final yet

    def convert(self, api_rows: Iterable[dict[str, Any]], batch: AdDayBatch | None = None) -> AdDayBatch:
        batch = batch or AdDayBatch()
        hierarchy, account_id, currency = self.hierarchy, self.account_id, self.currency
        provisional_from = self.provisional_from
        for api_row in api_rows:
            ad_id = _text(api_row.get("AD_ID"))
            try:
                day = dt.date.fromisoformat(str(api_row.get("DATE")))
            except ValueError:
                day = None
            if not ad_id or day is None:
                field_name = "AD_ID" if not ad_id else "DATE"
                raw = json.dumps(api_row)[:2000]
                batch.issues.append((f"{ad_id or '?'}/{api_row.get('DATE')}", field_name, "missing or invalid", raw))
                continue
            key = f"{ad_id}/{day.isoformat()}"
            parents = hierarchy.get(ad_id)
            if parents is None:
                batch.unknown_ads += 1
                batch.issues.append((key, "AD_ID", "unknown ad id: not listed by the entity refresh", ad_id))
                parents = (_text(api_row.get("AD_GROUP_ID")), _text(api_row.get("CAMPAIGN_ID")))
            values = []
            for column in METRIC_COLUMNS:
                raw_value = api_row.get(column)
                value = 0 if raw_value is None else _count(raw_value)
                if value is None:
                    batch.issues.append((key, column, "not a whole number", str(raw_value)[:200]))
                elif value < 0:
                    reason = "negative spend" if column == "SPEND_IN_MICRO_DOLLAR" else "negative count"
                    batch.issues.append((key, column, reason, str(raw_value)))
                    value = None
                values.append(value)
            batch.rows.append(
                (
                    ad_id,
                    day,
                    account_id,
                    parents[0],
                    parents[1],
                    *values,
                    money(values[0]),
                    currency,
                    provisional_from is not None and day >= provisional_from,
                    json.dumps(api_row, separators=(",", ":")),
                )
            )
        return batch


@dataclass(frozen=True)
class DeletionRule:
    """When a pull may delete the stored rows of its ads and days that Pinterest's answer left out.

    A 200 is not proof: an empty, ``null`` or truncated answer would erase stored spend, and days older than the
    next lookback would never come back. An answer is trusted to delete only when (1) it is not empty while stored
    rows of the scope had delivery (spend or impressions), and (2) it deletes at most ``max(max_rows, max_share x
    stored rows of the scope)`` rows (a restatement to nothing touches a few ad-days; a truncated answer, many).
    """

    max_share: float = 0.05
    max_rows: int = 10

    def refusal(self, *, stored: int, reported: int, unreported: int, unreported_delivered: int) -> str | None:
        """Why deleting ``unreported`` of ``stored`` rows (``unreported_delivered`` of them with delivery) is not
        trusted, for an answer of ``reported`` rows (None: it is)."""
        if unreported == 0:
            return None
        if reported == 0 and unreported_delivered > 0:
            return (
                f"the answer has no rows while {unreported_delivered} stored ad-day(s) of these ads and days had "
                "delivery"
            )
        allowed = max(self.max_rows, int(self.max_share * stored))
        if unreported > allowed:
            return (
                f"the answer leaves out {unreported} of the {stored} stored ad-days (at most {allowed} may go: "
                f"deletion_max_rows {self.max_rows}, deletion_max_share {self.max_share:g})"
            )
        return None


@dataclass
class RefusedDeletion:
    """Rows a pull kept because its answer was not trustworthy (``DeletionRule``): the reason and their keys."""

    reason: str
    keys: list[tuple[str, dt.date]]

    def describe(self, limit: int = 5) -> str:
        ads = sorted({ad_id for ad_id, _ in self.keys})
        days = sorted({day for _, day in self.keys})
        shown = ", ".join(ads[:limit]) + (f" and {len(ads) - limit} more" if len(ads) > limit else "")
        return f"{self.reason}: ads {shown}, days {days[0]}..{days[-1]}"


@dataclass
class AdDayLoad:
    changed: int = 0
    deleted: int = 0
    refused: RefusedDeletion | None = None


def load_ad_days(
    conn: Connection,
    batch: AdDayBatch,
    *,
    ad_ids: Sequence[str],
    start: dt.date,
    end: dt.date,
    run_id: str | None,
    rule: DeletionRule = DeletionRule(),
) -> AdDayLoad:
    """Replace the pulled ``ad_ids`` x ``[start, end]`` with ``batch`` in one transaction: COPY + one upsert, delete
    what Pinterest no longer reports there when ``rule`` trusts the answer (each deleted row is kept in
    ``raw.pinterest_ad_daily_deleted``), and make ``ops.record_issues`` say exactly this pull's problems.

    An untrusted deletion is rolled back (the reported rows stay loaded) and returned as ``refused`` for the caller
    to fail loudly. The delete runs only when the scope holds more rows than the batch (a count on the primary key),
    and only issues of the scope are replaced: a pull with nothing to delete and no problems costs the COPY and the
    upsert alone.
    """
    scope = {"ad_ids": list(ad_ids), "start_date": start, "end_date": end}
    wanted = set(ad_ids)
    reported = {(row[0], row[1]) for row in batch.rows if row[0] in wanted and start <= row[1] <= end}
    load = AdDayLoad()
    with conn.transaction():
        begin_load(conn, run_id)
        conn.execute(ONE_LOAD_AT_A_TIME)
        stored = conn.execute(COUNT_SCOPE, scope).fetchone()[0]
        # A never-loaded scope (the first pull of a backfill) is one COPY; anything else is merged.
        # (Every row in scope and none repeated: ``reported`` is the set of in-scope keys.)
        first_load = len(reported) == len(batch.rows) and stored == 0
        load.changed = copy_upsert(
            conn,
            AD_DAILY,
            AD_DAILY_COLUMNS,
            batch.rows,
            key=("ad_id", "date"),
            extra_updates=CHANGED,
            insert_only=first_load,
        )
        if not first_load and conn.execute(COUNT_SCOPE, scope).fetchone()[0] > len(reported):
            keys = sorted(reported)
            with conn.transaction() as savepoint:
                gone = conn.execute(
                    DELETE_UNREPORTED,
                    {
                        **scope,
                        "reported_ad_ids": [key[0] for key in keys],
                        "reported_dates": [key[1] for key in keys],
                        "reason": DELETION_REASON,
                    },
                ).fetchall()
                reason = rule.refusal(
                    stored=stored,
                    reported=len(reported),
                    unreported=len(gone),
                    unreported_delivered=sum(bool(spend or impressions) for _, _, spend, impressions in gone),
                )
                if reason is not None:
                    load.refused = RefusedDeletion(reason, sorted((ad_id, day) for ad_id, day, _, _ in gone))
                    raise Rollback(savepoint)
                load.deleted = len(gone)
        known = [key for (key,) in conn.execute(ISSUES_IN_SCOPE, {**scope, "source": AD_DAILY_SOURCE}).fetchall()]
        replace_record_issues(conn, AD_DAILY_SOURCE, known + [issue[0] for issue in batch.issues], batch.issues, run_id)
    return load
