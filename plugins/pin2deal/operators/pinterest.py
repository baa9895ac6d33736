"""Operators of the ``pinterest_spend`` DAG: entity refresh, synchronous spend pull, async report request and load.

Each works on its run's data interval and can be re-run, retried or backfilled: loads replace what they cover
(``pin2deal.pinterest_spend``). XCom carries counts and report tokens only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Generator, Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException
from psycopg import Connection

from pin2deal.hooks.pinterest import (
    MAX_IDS_PER_REQUEST,
    REPORT_MAX_RANGE_DAYS,
    SYNC_MAX_RANGE_DAYS,
    PinterestAdsHook,
)
from pin2deal.hooks.warehouse import WarehouseHook
from pin2deal.pinterest_spend import (
    ANALYTICS_COLUMNS,
    AdDayBatch,
    AdDayRows,
    DayPlan,
    ad_hierarchy,
    chunks,
    date_windows,
    interval_days,
    load_account,
    load_ad_days,
    load_entities,
    plan_days,
    provisional_days,
)


@contextlib.contextmanager
def warehouse(conn_id: str) -> Generator[Connection]:
    """An autocommit connection: each load's ``conn.transaction()`` is a transaction of its own that commits."""
    with WarehouseHook(conn_id).get_conn() as conn:
        conn.autocommit = True
        yield conn


class PinterestEntitiesOperator(BaseOperator):
    """Refresh the ad account (currency, time zone) and its campaigns, ad groups and ads in every status.

    Archived and paused entities are listed too: they spent money in the past, and spend rows need their parents.
    """

    template_fields: Sequence[str] = ("pinterest_conn_id", "warehouse_conn_id")

    def __init__(
        self,
        *,
        pinterest_conn_id: str = PinterestAdsHook.default_conn_name,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pinterest_conn_id = pinterest_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Context) -> dict[str, int]:
        hook = PinterestAdsHook(self.pinterest_conn_id)
        run_id = context["run_id"]
        account = hook.get_ad_account()
        timezone = hook.account_timezone(account)
        counts: dict[str, int] = {}
        with warehouse(self.warehouse_conn_id) as conn:
            load_account(conn, account, timezone.key, run_id)
            for kind in ("campaigns", "ad_groups", "ads"):
                listed = changed = 0
                for items in hook.iter_entities(kind):
                    listed += len(items)
                    changed += load_entities(conn, kind, items, hook.ad_account_id, run_id)
                counts[kind], counts[f"{kind}_changed"] = listed, changed
        counts["ads_read_requests"] = hook.request_counts["ads_read"]
        self.log.info("Pinterest entities of ad account %s: %s", hook.ad_account_id, counts)
        return counts


class PinterestIntervalOperator(BaseOperator):
    """Base of the operators that work on the days of a data interval (see ``plan``)."""

    template_fields: Sequence[str] = ("lookback_days", "pinterest_conn_id", "warehouse_conn_id")

    def __init__(
        self,
        *,
        lookback_days: int | str = 3,
        pinterest_conn_id: str = PinterestAdsHook.default_conn_name,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lookback_days = lookback_days
        self.pinterest_conn_id = pinterest_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def plan(self, context: Context, hook: PinterestAdsHook, conn: Connection, account: dict[str, Any]) -> DayPlan:
        """The days this run pulls: the interval's local days, the lookback and still-provisional days."""
        lookback = int(self.lookback_days)
        first, last = interval_days(
            context["data_interval_start"], context["data_interval_end"], hook.account_timezone(account)
        )
        plan = plan_days(
            first,
            last,
            lookback_days=lookback,
            provisional=provisional_days(conn, hook.ad_account_id),
            today=hook.server_today(),
        )
        self.log.info(
            "Interval %s..%s (account days) with %d lookback days, on %s (UTC, the API's clock): %s",
            first,
            last,
            lookback,
            hook.server_today(),
            plan.describe(),
        )
        if plan.unreachable:
            message = (
                f"Pinterest keeps daily analytics for 914 days: {len(plan.unreachable)} day(s) "
                f"{plan.unreachable[0]}..{plan.unreachable[-1]} cannot be pulled"
            )
            if not (plan.sync or plan.report):
                raise AirflowFailException(message)
            self.log.warning(message)
        return plan


class PinterestSpendOperator(PinterestIntervalOperator):
    """Pull spend per ad per day through the synchronous analytics endpoint and replace it in the warehouse.

    Requests are as few as the API allows: every ad of the account (any status) in chunks of 250 ids, each asking
    for the widest date range one request may cover (90 days). Days on or after the first day Pinterest reports as
    not final (``metrics_ready_state``) are stored provisional; later runs re-pull them.
    """

    def execute(self, context: Context) -> dict[str, int]:
        hook = PinterestAdsHook(self.pinterest_conn_id)
        run_id = context["run_id"]
        account = hook.get_ad_account()
        counts = {"rows": 0, "changed": 0, "deleted": 0, "issues": 0, "unknown_ads": 0, "provisional_days": 0}
        with warehouse(self.warehouse_conn_id) as conn:
            plan = self.plan(context, hook, conn, account)
            hierarchy = ad_hierarchy(conn, hook.ad_account_id)
            if plan.sync and not hierarchy:
                self.log.warning("No ads listed for ad account %s: nothing to pull", hook.ad_account_id)
            unfinished = self.first_unfinished_day(hook, plan.sync)
            if unfinished is not None:
                counts["provisional_days"] = sum(day >= unfinished for day in plan.sync)
            converter = AdDayRows(hook.ad_account_id, account["currency"], hierarchy, unfinished)
            for start, end in date_windows(plan.sync, SYNC_MAX_RANGE_DAYS):
                for ad_ids in chunks(sorted(hierarchy), MAX_IDS_PER_REQUEST):
                    batch = converter.convert(hook.ads_analytics(ad_ids, start, end, ANALYTICS_COLUMNS))
                    loaded = load_ad_days(conn, batch, ad_ids=ad_ids, start=start, end=end, run_id=run_id)
                    add_load_counts(counts, batch, loaded)
        counts["analytics_requests"] = hook.request_counts["ads_analytics"]
        counts["seconds_waited_on_budget"] = round(hook.seconds_waited)
        self.log.info("Pinterest spend of ad account %s: %s", hook.ad_account_id, counts)
        return counts

    def first_unfinished_day(self, hook: PinterestAdsHook, days: Sequence[dt.date]) -> dt.date | None:
        """The earliest of ``days`` whose metrics are not final, asking from the newest day back (once a day is
        final every earlier day is: usually two or three calls)."""
        unfinished = None
        for day in sorted(days, reverse=True):
            if hook.metrics_ready(day):
                break
            unfinished = day
        return unfinished


def add_load_counts(counts: dict[str, int], batch: AdDayBatch, loaded: tuple[int, int]) -> None:
    counts["rows"] += len(batch.rows)
    counts["changed"] += loaded[0]
    counts["deleted"] += loaded[1]
    counts["issues"] += len(batch.issues)
    counts["unknown_ads"] += batch.unknown_ads


class PinterestReportRequestOperator(PinterestIntervalOperator):
    """Ask for asynchronous reports covering the run's days older than the synchronous endpoint reaches (90 days).

    One ad-level daily report of the whole account per 186 days; returns ``[{token, start_date, end_date}]``
    (empty when every day is recent) for ``PinterestReportSensor`` and ``PinterestReportLoadOperator``.
    """

    def execute(self, context: Context) -> list[dict[str, str]]:
        hook = PinterestAdsHook(self.pinterest_conn_id)
        account = hook.get_ad_account()
        with warehouse(self.warehouse_conn_id) as conn:
            plan = self.plan(context, hook, conn, account)
        reports = [
            {
                "token": hook.create_report(start, end, ANALYTICS_COLUMNS),
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
            }
            for start, end in date_windows(plan.report, REPORT_MAX_RANGE_DAYS)
        ]
        self.log.info("Requested %d Pinterest report(s): %s", len(reports), reports)
        return reports


class PinterestReportLoadOperator(BaseOperator):
    """Download finished reports (``PinterestReportRequestOperator``'s list) and replace their days in the warehouse.

    Report days are older than 90 days: final. Rows are loaded per 250 ads (the account's ads and any ad the report
    names), each batch replacing those ads over the report's date range.
    """

    template_fields: Sequence[str] = ("reports", "pinterest_conn_id", "warehouse_conn_id")

    def __init__(
        self,
        *,
        reports: Any,
        pinterest_conn_id: str = PinterestAdsHook.default_conn_name,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.reports = reports
        self.pinterest_conn_id = pinterest_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def execute(self, context: Context) -> dict[str, int]:
        hook = PinterestAdsHook(self.pinterest_conn_id)
        run_id = context["run_id"]
        counts = {"reports": 0, "rows": 0, "changed": 0, "deleted": 0, "issues": 0, "unknown_ads": 0}
        reports = self.reports or []
        if not reports:
            return counts
        account = hook.get_ad_account()
        with warehouse(self.warehouse_conn_id) as conn:
            hierarchy = ad_hierarchy(conn, hook.ad_account_id)
            converter = AdDayRows(hook.ad_account_id, account["currency"], hierarchy)
            for report in reports:
                status = hook.get_report(report["token"])
                if status.get("report_status") != "FINISHED" or not status.get("url"):
                    raise AirflowFailException(
                        f"Pinterest report {report['start_date']}..{report['end_date']} is "
                        f"{status.get('report_status')}: clear request_reports to ask for a new one"
                    )
                by_ad: dict[str, list[dict[str, Any]]] = {}
                for row in hook.download_report(status["url"]):
                    row.setdefault("AD_ID", row.get("PIN_PROMOTION_ID"))
                    by_ad.setdefault(str(row.get("AD_ID")), []).append(row)
                start = dt.date.fromisoformat(report["start_date"])
                end = dt.date.fromisoformat(report["end_date"])
                for ad_ids in chunks(sorted(set(hierarchy) | set(by_ad)), MAX_IDS_PER_REQUEST):
                    batch = AdDayBatch()
                    for ad_id in ad_ids:
                        converter.convert(by_ad.get(ad_id, ()), batch)
                    loaded = load_ad_days(conn, batch, ad_ids=ad_ids, start=start, end=end, run_id=run_id)
                    add_load_counts(counts, batch, loaded)
                counts["reports"] += 1
        self.log.info("Loaded %d Pinterest report(s): %s", len(reports), counts)
        return counts
