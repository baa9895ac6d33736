"""Operators of the ``pinterest_spend`` DAG: entity refresh, synchronous spend pull, async report request and load.

Each works on its run's data interval and can be re-run, retried or backfilled: loads replace what they cover
(``pin2deal.pinterest.spend``). XCom carries counts and report tokens only.
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
from pin2deal.pinterest.spend import (
    ANALYTICS_COLUMNS,
    AdDayBatch,
    AdDayLoad,
    AdDayRows,
    DayPlan,
    DeletionRule,
    RefusedDeletion,
    ad_hierarchy,
    chunks,
    date_windows,
    interval_days,
    last_complete_day,
    load_account,
    load_ad_days,
    load_entities,
    plan_days,
    provisional_days,
)

# What the operators write, for their lineage.
ENTITY_TABLES = ("raw.pinterest_ad_accounts", "raw.pinterest_campaigns", "raw.pinterest_ad_groups", "raw.pinterest_ads")
AD_DAY_TABLES = ("raw.pinterest_ad_daily", "raw.pinterest_ad_daily_deleted")


class UntrustworthyAnswer(RuntimeError):
    """Pinterest's answer left out stored rows the deletion rule does not let it delete (``DeletionRule``).

    Not an ``AirflowFailException``: a partial answer is usually transient, so Airflow's retries pull again.
    """


def fail_on_refusals(refusals: Sequence[RefusedDeletion], what: str) -> None:
    """Raise ``UntrustworthyAnswer`` naming the ads and days kept, once every batch is loaded."""
    if not refusals:
        return
    details = "; ".join(refusal.describe() for refusal in refusals[:5])
    more = f" (and {len(refusals) - 5} more batches)" if len(refusals) > 5 else ""
    kept = sum(len(refusal.keys) for refusal in refusals)
    raise UntrustworthyAnswer(
        f"{what}: kept {kept} stored ad-day(s) Pinterest's answer left out, because the answer is not trustworthy "
        f"enough to delete them: {details}{more}. The rows it did report are loaded. A retry pulls again; if "
        "Pinterest really no longer reports these ad-days, trigger the run with higher deletion_max_rows / "
        "deletion_max_share (docs/pinterest.md, Deletions)"
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

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The ad account and its entities into raw (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.pinterest(self.pinterest_conn_id, "", "campaigns", "ad_groups", "ads"),
            outputs=lineage.warehouse(self.warehouse_conn_id, *ENTITY_TABLES),
        )

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
        """The days this run pulls: the interval's local days, the lookback and still-provisional days.

        A run without a data interval (triggered without a logical date) pulls up to the account's last complete
        day, by the API's clock."""
        lookback = int(self.lookback_days)
        timezone = hook.account_timezone(account)
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        if start is None or end is None:
            first = last = last_complete_day(hook.server_time or dt.datetime.now(dt.UTC), timezone)
            self.log.info("Run without a data interval: pulling up to the account's last complete day, %s", last)
        else:
            first, last = interval_days(start, end, timezone)
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
    not final (``metrics_ready_state``) are stored provisional; later runs re-pull them. Stored rows an answer left
    out are deleted only when ``DeletionRule(deletion_max_share, deletion_max_rows)`` trusts it; otherwise the task
    fails after loading everything, naming the ads and days kept.
    """

    template_fields: Sequence[str] = (
        *PinterestIntervalOperator.template_fields,
        "deletion_max_share",
        "deletion_max_rows",
    )

    def __init__(
        self,
        *,
        deletion_max_share: float | str = DeletionRule.max_share,
        deletion_max_rows: int | str = DeletionRule.max_rows,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deletion_max_share = deletion_max_share
        self.deletion_max_rows = deletion_max_rows

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The ad account's analytics into the ad-day tables (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.pinterest(self.pinterest_conn_id, "analytics"),
            outputs=lineage.warehouse(self.warehouse_conn_id, *AD_DAY_TABLES),
        )

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
            rule = deletion_rule(self.deletion_max_share, self.deletion_max_rows)
            refusals: list[RefusedDeletion] = []
            for start, end in date_windows(plan.sync, SYNC_MAX_RANGE_DAYS):
                for ad_ids in chunks(sorted(hierarchy), MAX_IDS_PER_REQUEST):
                    batch = converter.convert(hook.ads_analytics(ad_ids, start, end, ANALYTICS_COLUMNS))
                    loaded = load_ad_days(conn, batch, ad_ids=ad_ids, start=start, end=end, run_id=run_id, rule=rule)
                    add_load_counts(counts, batch, loaded, refusals)
        counts["analytics_requests"] = hook.request_counts["ads_analytics"]
        counts["seconds_waited_on_budget"] = round(hook.seconds_waited)
        self.log.info("Pinterest spend of ad account %s: %s", hook.ad_account_id, counts)
        fail_on_refusals(refusals, f"Pinterest spend of ad account {hook.ad_account_id}")
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


def deletion_rule(max_share: float | str, max_rows: int | str) -> DeletionRule:
    share, rows = float(max_share), int(max_rows)
    if not 0 <= share <= 1 or rows < 0:
        raise AirflowFailException(
            f"deletion_max_share must be in [0, 1] and deletion_max_rows >= 0, got {max_share!r} and {max_rows!r}"
        )
    return DeletionRule(max_share=share, max_rows=rows)


def add_load_counts(
    counts: dict[str, int], batch: AdDayBatch, loaded: AdDayLoad, refusals: list[RefusedDeletion]
) -> None:
    counts["rows"] += len(batch.rows)
    counts["changed"] += loaded.changed
    counts["deleted"] += loaded.deleted
    counts["issues"] += len(batch.issues)
    counts["unknown_ads"] += batch.unknown_ads
    if loaded.refused is not None:
        counts["kept_unreported"] = counts.get("kept_unreported", 0) + len(loaded.refused.keys)
        refusals.append(loaded.refused)


class PinterestReportRequestOperator(PinterestIntervalOperator):
    """Ask for asynchronous reports covering the run's days older than the synchronous endpoint reaches (90 days).

    One ad-level daily report of the whole account per 186 days; returns ``[{token, start_date, end_date}]``
    (empty when every day is recent) for ``PinterestReportSensor`` and ``PinterestReportLoadOperator``.
    """

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Asks the ad account for reports of its analytics (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.pinterest(self.pinterest_conn_id, "analytics"),
            outputs=lineage.pinterest(self.pinterest_conn_id, "reports"),
        )

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

    template_fields: Sequence[str] = (
        "reports",
        "pinterest_conn_id",
        "warehouse_conn_id",
        "deletion_max_share",
        "deletion_max_rows",
    )

    def __init__(
        self,
        *,
        reports: Any,
        pinterest_conn_id: str = PinterestAdsHook.default_conn_name,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        deletion_max_share: float | str = DeletionRule.max_share,
        deletion_max_rows: int | str = DeletionRule.max_rows,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.reports = reports
        self.pinterest_conn_id = pinterest_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.deletion_max_share = deletion_max_share
        self.deletion_max_rows = deletion_max_rows

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The ad account's finished reports into the ad-day tables (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.pinterest(self.pinterest_conn_id, "reports"),
            outputs=lineage.warehouse(self.warehouse_conn_id, *AD_DAY_TABLES),
        )

    def execute(self, context: Context) -> dict[str, int]:
        hook = PinterestAdsHook(self.pinterest_conn_id)
        run_id = context["run_id"]
        counts = {"reports": 0, "rows": 0, "changed": 0, "deleted": 0, "issues": 0, "unknown_ads": 0}
        reports = self.reports or []
        if not reports:
            return counts
        account = hook.get_ad_account()
        rule = deletion_rule(self.deletion_max_share, self.deletion_max_rows)
        refusals: list[RefusedDeletion] = []
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
                    loaded = load_ad_days(conn, batch, ad_ids=ad_ids, start=start, end=end, run_id=run_id, rule=rule)
                    add_load_counts(counts, batch, loaded, refusals)
                counts["reports"] += 1
        self.log.info("Loaded %d Pinterest report(s): %s", len(reports), counts)
        fail_on_refusals(refusals, f"Pinterest reports of ad account {hook.ad_account_id}")
        return counts
