"""HubSpot deals, their contacts and the deal pipeline stages into ``raw.hubspot_*``, one data interval per run."""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from pin2deal.dag_defaults import DEFAULT_ARGS, RAW_HUBSPOT_DEALS
from pin2deal.operators.hubspot_deals import HubSpotDealsToWarehouseOperator
from pin2deal.tasks import migrate_warehouse

# Cron of the runs (each reads the deals modified in its interval); override with PIN2DEAL_HUBSPOT_DEALS_SCHEDULE.
SCHEDULE = os.environ.get("PIN2DEAL_HUBSPOT_DEALS_SCHEDULE", "0 * * * *")

DOC = """
### HubSpot deals

Each run reads the deals whose `hs_lastmodifieddate` falls in its data interval (search API, keyset-paged,
complete past the 10,000-result cap), their associated contacts and the deal pipeline stages, and merges them
into `raw.hubspot_deals`, `raw.hubspot_contacts`, `raw.hubspot_deal_contacts`, `raw.hubspot_deal_ids` and
`raw.hubspot_pipeline_stages`. A run killed midway resumes from its watermark (`ops.watermarks`, source
`hubspot.deals`); re-running an interval rewrites nothing that did not change. Bad values are loaded and listed
in `ops.record_issues`.

Trigger with **full_refresh** after a CRM migration or to pick up association changes and archived deals (HubSpot
does not move a deal's modified date for those), or with **since** to re-read everything modified from a date.
Backfill: `airflow backfill create --dag-id hubspot_deals --from-date A --to-date B`. See docs/hubspot.md.
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
        "since": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Since",
            description="Read the deals modified from this date (UTC) to the interval's end.",
        ),
    },
    tags=["pin2deal", "hubspot", "extract"],
    doc_md=DOC,
) as dag:
    extract = HubSpotDealsToWarehouseOperator(
        task_id="extract_hubspot_deals",
        pool="hubspot_api",
        outlets=[RAW_HUBSPOT_DEALS],
        execution_timeout=dt.timedelta(hours=6),
    )
    migrate_warehouse() >> extract
