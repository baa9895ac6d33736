"""Weekly HubSpot sweep: deleted deals, drift and contact changes the modified-date search never shows."""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, CronTriggerTimetable, Param

from pin2deal.dag_defaults import DEFAULT_ARGS, FAILED_TASK_ADVICE, RAW_HUBSPOT_DEALS
from pin2deal.operators.hubspot_sweep import HubSpotSweepOperator
from pin2deal.tasks import migrate_warehouse

# Sunday 04:00 UTC by default; override with PIN2DEAL_HUBSPOT_SWEEP_SCHEDULE (a cron expression).
SCHEDULE = os.environ.get("PIN2DEAL_HUBSPOT_SWEEP_SCHEDULE", "0 4 * * 0")

DOC = (
    """
### HubSpot sweep

Lists every HubSpot deal id (list endpoint, ids only: one call per 100 deals) and marks `raw.hubspot_deals`
accordingly: deals HubSpot no longer has get `deleted_at` (rows are never deleted; a deal that comes back has it
cleared), archive flags follow HubSpot, live deals raw lacks are loaded. Then re-reads the contacts whose own
modified date moved since the last sweep (contact search), so a corrected email reaches CAPI.

Refuses to mark anything when more than **max_deleted_share** of the live deals would vanish (an empty or
truncated listing); deals re-created under a new id (their old id as legacy id) do not count. Raise it in the
trigger form after a real bulk delete. See docs/operations.md.
"""
    + FAILED_TASK_ADVICE
)

SWEEP_DOC = """
Lists every deal id (active, then archived), marks deals HubSpot no longer has as deleted and re-keys the deals
that take over their lineage, loads live deals raw lacks, and re-reads contacts modified since the last run.
Returns the counts (listed, deleted, restored, re-keyed, contacts refreshed, API calls) shown in the XCom tab.

**If it fails**: "nothing was marked ... more than max_deleted_share" means the listing would mark too many deals
deleted without a successor: check HubSpot (a bulk delete; a migration that did not keep the old ids as legacy
ids) and trigger again with a higher `max_deleted_share` if it is real; it is not retried. A 401/403 names the
connection `hubspot_default` (fix the token, clear the task). Anything else: clear the task; the contact refresh
resumes from its watermark.
"""

with DAG(
    dag_id="hubspot_sweep",
    schedule=CronTriggerTimetable(SCHEDULE, timezone="UTC"),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        "max_deleted_share": Param(
            0.2,
            type="number",
            minimum=0,
            maximum=1,
            title="Largest share of live deals one run may mark deleted",
            description="A listing that would mark more without a successor is refused (nothing is marked).",
        ),
    },
    tags=["pin2deal", "hubspot", "sweep"],
    doc_md=DOC,
) as dag:
    sweep = HubSpotSweepOperator(
        task_id="sweep_hubspot",
        pool="hubspot_api",
        outlets=[RAW_HUBSPOT_DEALS],
        # Listing is cheap (100 ids a call) but a large portal's contact refresh is search-bound: hours at most.
        execution_timeout=dt.timedelta(hours=6),
        retries=3,
        retry_delay=dt.timedelta(minutes=5),
        retry_exponential_backoff=2.0,
        max_retry_delay=dt.timedelta(minutes=30),
        doc_md=SWEEP_DOC,
    )
    migrate_warehouse() >> sweep
