"""Pinterest Ads spend per ad per day into ``raw.pinterest_*``, one data interval (plus a lookback) per run."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from pin2deal.dag_defaults import DEFAULT_ARGS, FAILED_TASK_ADVICE, RAW_PINTEREST_SPEND
from pin2deal.operators.pinterest import (
    PinterestEntitiesOperator,
    PinterestReportLoadOperator,
    PinterestReportRequestOperator,
    PinterestSpendOperator,
)
from pin2deal.sensors.pinterest import PinterestReportSensor
from pin2deal.tasks import migrate_warehouse

DOC = (
    """
### Pinterest spend

1. **refresh_entities**: the ad account (currency, time zone) and its campaigns, ad groups and ads in *every*
   status (archived entities spent money too) into `raw.pinterest_ad_accounts`, `raw.pinterest_campaigns`,
   `raw.pinterest_ad_groups`, `raw.pinterest_ads`.
2. **pull_spend**: the interval's days (the ad account's local days), the `lookback_days` before them (Pinterest
   restates the last 24-48 h) and any day still stored provisional, for every ad, through the synchronous analytics
   endpoint (250 ads and up to 90 days per request). Days Pinterest has not finalised (`metrics_ready_state`) are
   stored `provisional` and pulled again by later runs. Each pull replaces its ads and days in
   `raw.pinterest_ad_daily`: a re-run never adds. Stored rows the answer left out are deleted (and kept in
   `raw.pinterest_ad_daily_deleted`) only when the answer is trustworthy: not empty while those ad-days had
   delivery, and leaving out at most `max(deletion_max_rows, deletion_max_share x stored rows)`; otherwise the
   task loads what was reported and fails, naming the ads and days (a retry pulls again).
3. **request_reports → wait_for_reports → load_reports**: days older than 90 days (backfills, up to 914 days) go
   through asynchronous reports; the sensor waits in reschedule mode, holding no worker slot. Nothing to do for
   recent intervals.

**Manual runs without a logical date** (`airflow dags trigger pinterest_spend`, or the trigger form with the date
left empty) have no data interval: they pull the ad account's last complete day (yesterday in its time zone, by
the API's clock) and the lookback before it.

Metrics Pinterest leaves out of a row (it omits zero values) are stored as 0. Bad rows (unknown ad id, negative
spend) are loaded as far as they can be and listed in
`ops.record_issues` (source `pinterest.ad_daily`). API tasks share the `pinterest_api` pool and per-category
budgets (ads_analytics 300/min, ads_read 1,000/min).
Backfill: `airflow backfill create --dag-id pinterest_spend --from-date A --to-date B`. See docs/pinterest.md.
"""
    + FAILED_TASK_ADVICE
)

AUTH_ADVICE = (
    "a 401 names the connection `pinterest_ads_default` (refresh the OAuth token or fix its refresh_token / "
    "client_id / client_secret extra); a 403 names the missing scope (`ads:read`)"
)
ENTITIES_DOC = f"""
Lists the ad account and every campaign, ad group and ad (all statuses) into `raw.pinterest_*`; returns how many
of each were loaded (XCom tab). Runs in the `pinterest_api` pool.

**If it fails**: {AUTH_ADVICE}. Otherwise the API was unavailable beyond the retries: clear the task (idempotent).
"""
PULL_DOC = f"""
Pulls spend, impressions, clicks and Pinterest checkouts per ad per day for the interval, the lookback days and any
provisional day, through the synchronous analytics (250 ads x 90 days per request), and replaces those ad-days in
`raw.pinterest_ad_daily`; returns rows loaded, days, requests and record issues (XCom tab).

**If it fails**: {AUTH_ADVICE}. A 429 storm means another client shares the app's `ads_analytics` budget (lower
the connection extra's budget). Clear the task: a re-pull replaces, never adds.
"""
REQUEST_DOC = """
For days older than the synchronous analytics reach (90 days; backfills), requests one asynchronous ad-level report
per 186 days; returns the report tokens (XCom). Nothing to do, and an empty list, for recent intervals.

**If it fails**: as `refresh_entities`; clear the task (a new request replaces the old tokens).
"""
WAIT_DOC = """
Waits (reschedule mode: no worker slot held between pokes) until every requested report is FINISHED.

**If it fails**: a report that Pinterest marks FAILED or EXPIRED, or 6 hours without finishing: clear
`request_reports` (and its downstream tasks) to ask for new reports.
"""
LOAD_DOC = """
Downloads the finished reports and loads their ad-days like `pull_spend` does; returns rows and days loaded, and
publishes the `raw_pinterest_spend` Asset that starts the reconcile.

**If it fails**: "report ... is EXPIRED" (or any status but FINISHED): clear `request_reports` and its downstream
tasks to ask for new reports. Bad rows never fail it: they are loaded as far as they can be and listed in
`ops.record_issues` (source `pinterest.ad_daily`).
"""

with DAG(
    dag_id="pinterest_spend",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    default_args=DEFAULT_ARGS,
    params={
        "lookback_days": Param(
            3,
            type="integer",
            minimum=0,
            maximum=89,
            title="Lookback days",
            description="Days before the interval pulled again (Pinterest restates the last 24-48 hours).",
        ),
        "deletion_max_share": Param(
            0.05,
            type="number",
            minimum=0,
            maximum=1,
            title="Deletion: largest share",
            description="A pull may delete at most this share of the stored ad-days it covers (or deletion_max_rows, "
            "whichever is more) that Pinterest's answer left out; a larger gap fails the task as untrustworthy.",
        ),
        "deletion_max_rows": Param(
            10,
            type="integer",
            minimum=0,
            title="Deletion: rows always allowed",
            description="A pull may always delete this many unreported ad-days (restatements to nothing).",
        ),
    },
    tags=["pin2deal", "pinterest", "extract"],
    doc_md=DOC,
) as dag:
    lookback = "{{ params.lookback_days }}"
    # API tasks: retries minutes apart (outages and rate-limit storms last minutes), capped at 30 minutes.
    api_retries = {
        "retries": 3,
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": dt.timedelta(minutes=30),
    }
    refresh_entities = PinterestEntitiesOperator(
        task_id="refresh_entities",
        pool="pinterest_api",
        execution_timeout=dt.timedelta(minutes=30),
        doc_md=ENTITIES_DOC,
        **api_retries,
    )
    deletion = {
        "deletion_max_share": "{{ params.deletion_max_share }}",
        "deletion_max_rows": "{{ params.deletion_max_rows }}",
    }
    pull_spend = PinterestSpendOperator(
        task_id="pull_spend",
        lookback_days=lookback,
        pool="pinterest_api",
        execution_timeout=dt.timedelta(hours=2),
        doc_md=PULL_DOC,
        **api_retries,
        **deletion,
    )
    request_reports = PinterestReportRequestOperator(
        task_id="request_reports",
        lookback_days=lookback,
        pool="pinterest_api",
        execution_timeout=dt.timedelta(minutes=15),
        doc_md=REQUEST_DOC,
        **api_retries,
    )
    wait_for_reports = PinterestReportSensor(
        task_id="wait_for_reports",
        reports=request_reports.output,
        pool="pinterest_api",
        poke_interval=20,
        exponential_backoff=True,
        max_wait=dt.timedelta(minutes=10),
        timeout=dt.timedelta(hours=6),  # the whole wait; each poke is one short status request
        execution_timeout=dt.timedelta(minutes=5),
        doc_md=WAIT_DOC,
        **api_retries,
    )
    load_reports = PinterestReportLoadOperator(
        task_id="load_reports",
        reports=request_reports.output,
        pool="pinterest_api",
        outlets=[RAW_PINTEREST_SPEND],
        execution_timeout=dt.timedelta(hours=2),
        doc_md=LOAD_DOC,
        **api_retries,
        **deletion,
    )
    migrate_warehouse() >> refresh_entities >> pull_spend >> request_reports >> wait_for_reports >> load_reports
