"""Weekly HubSpot reconciliation: deleted deals, drift and contact changes the modified-date search never shows."""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, CronTriggerTimetable, Param

from pin2deal.dag_defaults import DEFAULT_ARGS, RAW_HUBSPOT_DEALS
from pin2deal.operators.hubspot_reconcile import HubSpotReconcileOperator
from pin2deal.tasks import migrate_warehouse

# Sunday 04:00 UTC by default; override with PIN2DEAL_HUBSPOT_RECONCILE_SCHEDULE (a cron expression).
SCHEDULE = os.environ.get("PIN2DEAL_HUBSPOT_RECONCILE_SCHEDULE", "0 4 * * 0")

DOC = """
### HubSpot reconciliation

Lists every HubSpot deal id (list endpoint, ids only: one call per 100 deals) and marks `raw.hubspot_deals`
accordingly: deals HubSpot no longer has get `deleted_at` (rows are never deleted; a deal that comes back has it
cleared), archive flags follow HubSpot, live deals raw lacks are loaded. Then re-reads the contacts whose own
modified date moved since the last reconciliation (contact search), so a corrected email reaches CAPI.

Refuses to mark anything when more than **max_deleted_share** of the live deals would be marked deleted (an
empty or truncated listing); raise it in the trigger form after a real bulk delete. See docs/operations.md.
"""

with DAG(
    dag_id="hubspot_reconcile",
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
            description="A listing that would mark more is refused (nothing is marked).",
        ),
    },
    tags=["pin2deal", "hubspot", "reconcile"],
    doc_md=DOC,
) as dag:
    reconcile = HubSpotReconcileOperator(
        task_id="reconcile_hubspot",
        pool="hubspot_api",
        outlets=[RAW_HUBSPOT_DEALS],
        execution_timeout=dt.timedelta(hours=6),
    )
    migrate_warehouse() >> reconcile
