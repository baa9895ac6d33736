"""HubSpot deals, their contacts and the deal pipeline stages into ``raw.hubspot_*``, from the high-water mark on."""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from pin2deal.dag_defaults import DEFAULT_ARGS, FAILED_TASK_ADVICE, RAW_HUBSPOT_DEALS
from pin2deal.operators.hubspot_deals import HubSpotDealsToWarehouseOperator
from pin2deal.tasks import migrate_warehouse

# Cron of the runs; override with PIN2DEAL_HUBSPOT_DEALS_SCHEDULE.
SCHEDULE = os.environ.get("PIN2DEAL_HUBSPOT_DEALS_SCHEDULE", "0 * * * *")
# Each run re-reads this much before the high-water mark (HubSpot's search index lags writes).
OVERLAP = dt.timedelta(minutes=float(os.environ.get("PIN2DEAL_HUBSPOT_OVERLAP_MINUTES", "10")))
# A scheduled run waits until its interval's end is this old before reading (the overlap covers the rest).
SEARCH_INDEX_LAG = dt.timedelta(seconds=float(os.environ.get("PIN2DEAL_HUBSPOT_SEARCH_LAG_SECONDS", "30")))

DOC = (
    """
### HubSpot deals

Each run reads the deals whose `hs_lastmodifieddate` falls between the **high-water mark** (the end of the last
completed read, minus a 10-minute overlap for HubSpot's search-index lag) and its interval's end (now, for a
manual trigger without a logical date), so intervals skipped by the scheduler or lost to a failed run are covered
by the next success. A backfill (`airflow backfill create`) re-reads exactly its own intervals. Search is
keyset-paged, complete past the 10,000-result cap; with the deals come their contacts and the pipeline stages,
merged into `raw.hubspot_deals`, `raw.hubspot_contacts`, `raw.hubspot_deal_contacts`, `raw.hubspot_deal_ids` and
`raw.hubspot_pipeline_stages`. A run killed midway resumes from its watermark (`ops.watermarks`, source
`hubspot.deals`); re-reading rewrites nothing that did not change. Bad values are loaded and listed in
`ops.record_issues`. A deal re-created by a CRM migration takes its old deal's stable key as soon as it is
loaded, once HubSpot confirms the old id is gone (one batch read per 100 old ids).

Trigger with **full_refresh** to check a CRM migration or pick up association-only edits (`airflow dags trigger
hubspot_deals --conf '{"full_refresh": true}'`), or with **since** to re-read everything modified from a date.
Deletions, drift and contact changes are the weekly `hubspot_sweep` DAG's job. See docs/hubspot.md.
"""
    + FAILED_TASK_ADVICE
)

EXTRACT_DOC = """
Reads the deals modified since the high-water mark (its own interval in a backfill; every deal with `full_refresh`,
or from `since`), their contacts and the pipeline stages, and merges them into `raw.hubspot_*`. Returns the counts
(deals, contacts, pages, record issues) shown in the XCom tab. Runs in the `hubspot_api` pool; paces itself to the
app's rate budgets.

**If it fails**: a 401/403 names the connection `hubspot_default` and the missing scope or expired token (fix it,
then clear the task); a missing property names its role (fix the connection extra's `properties`); a DAILY
rate-limit error means the portal's daily quota is spent (clear the task tomorrow). Anything else: clear the task;
it resumes after the last committed batch (`ops.watermarks`, source `hubspot.deals`), nothing is duplicated.
"""

with DAG(
    dag_id="hubspot_deals",
    schedule=CronDataIntervalTimetable(SCHEDULE, timezone="UTC"),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    render_template_as_native_obj=True,
    params={
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Read every deal (archived too) instead of the interval's modified ones.",
        ),
        "max_deleted_share": Param(
            0.2,
            type="number",
            minimum=0,
            maximum=1,
            title="Largest share of deals a full refresh may mark deleted",
            description="A full refresh ends by marking deals HubSpot no longer has as deleted; when more than this "
            "share of the deals would vanish nothing is marked and the run fails (a truncated listing). Deals "
            "re-created under a new id with their old id as legacy id (a CRM migration) do not count.",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Since",
            description="Read the deals modified from this date (UTC) to the run's end (interval end, or now).",
        ),
    },
    tags=["pin2deal", "hubspot", "extract"],
    doc_md=DOC,
) as dag:
    extract = HubSpotDealsToWarehouseOperator(
        task_id="extract_hubspot_deals",
        overlap=OVERLAP,
        search_index_lag=SEARCH_INDEX_LAG,
        max_deleted_share="{{ params.max_deleted_share }}",
        pool="hubspot_api",
        outlets=[RAW_HUBSPOT_DEALS],
        # A full refresh of a large portal is search-bound (5 requests/s): hours, not minutes. Retries resume from
        # the watermark, so they are cheap; minutes apart because the usual cause is an API outage.
        execution_timeout=dt.timedelta(hours=6),
        retries=4,
        retry_delay=dt.timedelta(minutes=2),
        retry_exponential_backoff=2.0,
        max_retry_delay=dt.timedelta(minutes=30),
        doc_md=EXTRACT_DOC,
    )
    migrate_warehouse() >> extract
