"""Pinterest Conversions API: a ``lead`` per deal, a ``checkout`` per won deal and an event per entry into a mapped
stage, each exactly once per lineage, after each reconcile and hourly; then Pinterest's Event Quality Score of those
events."""

from __future__ import annotations

import datetime as dt
import json
import os

from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, Param

from pin2deal.capi.payload import EVENT_KINDS, stage_kind
from pin2deal.dag_defaults import DEFAULT_ARGS, FAILED_TASK_ADVICE, MART_ATTRIBUTION, document_tasks
from pin2deal.operators.pinterest_capi import PinterestConversionsOperator, PinterestEventQualityOperator
from pin2deal.tasks import fill_capi_outbox, migrate_warehouse

# HubSpot deal stage id -> Pinterest event name, as a JSON object in PIN2DEAL_CAPI_STAGE_EVENTS (a deployment sets
# it without editing this file): the lineage's first entry into the stage is sent once as that event (docs/capi.md,
# "Stage events"), e.g. {"appointmentscheduled": "signup"}. None by default: leads and checkouts only. Each mapped
# stage is the event kind "stage:<stage id>" of event_kinds and enable_event_kinds.
STAGE_EVENTS: dict[str, str] = json.loads(os.environ.get("PIN2DEAL_CAPI_STAGE_EVENTS") or "{}")

DOC = (
    """
### Pinterest Conversions API

1. **fill_capi_outbox**: a `lead` row per deal, a `checkout` row per won deal of `mart.deal_attribution` and a
   row per lineage and mapped stage it entered (`STAGE_EVENTS`) in `ops.capi_outbox`, keyed by `won_<stable key>` /
   `lead_<stable key>` or the tag's event id / `stage_<stage id>_<stable key>` (a CRM migration or merge keeps the
   key), for the deals changed since the last fill only.
2. **send_conversions**: an event per undecided outbox row (new or changed inputs, or still open), up to 1,000 per
   request of one kind; a lineage already reported gets no second event of a kind; every decision in
   `ops.capi_ledger` (sent, failed with Pinterest's message, skipped with a reason, or in flight). The return value
   (XCom) is the summary: sent / processed / failed / skipped by reason.
3. **read_event_quality**: Pinterest's Event Quality Score of our events (14 days: the overall status and, per key
   and event type, the percent of events carrying it) into `raw.pinterest_event_quality`; one read per ad account
   and UTC day, each run replacing the day's read. The briefing and the pin2deal page show it.

Runs after every reconcile (the `mart_attribution` Asset) and hourly, because Pinterest accepts events only for
7 days after they happen. Uses no data interval: every run takes what changed or is not final yet (an hour with
nothing changed reads nothing). Params: `dry_run` (build,
validate, record, send nothing), `test_mode` (Pinterest's `?test=true`: answered, not recorded),
`enable_event_kinds` (kinds this run sends even when switched off in the operator's `event_kinds`). One run at a
time. See docs/capi.md for the rules, the ledger states and the crash window.
"""
    + FAILED_TASK_ADVICE
)

TASK_DOCS = {
    "fill_capi_outbox": """
A `lead` row per deal, a `checkout` row per won deal of `mart.deal_attribution` and a row per lineage and mapped
stage it entered in `ops.capi_outbox`, with the event's inputs, for the deals changed since the last fill; a changed
input re-opens the event. Returns the deals changed and the outbox rows awaiting a decision.

**If it fails**: `mart.deal_attribution` is missing (let `attribution_reconcile` run first), "stage_events: stage
... is not a stage of the portal's deal pipelines" names a mapped stage HubSpot does not have (fix
`PIN2DEAL_CAPI_STAGE_EVENTS`), or the log names the SQL error; clear the task.
""",
    "send_conversions": """
Sends a `lead`, `checkout` or stage event for every undecided outbox row, up to 1,000 per request of one kind, and
records each decision in `ops.capi_ledger` (sent, failed with Pinterest's message, skipped with a reason). Returns
sent / failed / skipped by reason (XCom tab).

**If it fails**: a 401/403 names `pinterest_conversions_default` (token or ad account: fix the connection); 429
and 5xx were already retried honouring `Retry-After`; "refused with a 400 on their own" means the API refuses our
request format (it changed): the events stay pending, fix and release before clearing. Clear the task: accepted
events are never sent again, and events left in flight are resolved by the next run (docs/capi.md).
""",
    "read_event_quality": """
Reads `GET /v5/ad_accounts/{id}/conversion_eqs` (lookback 14 days) on `pinterest_ads_default` and replaces the UTC
day's read in `raw.pinterest_event_quality` and `raw.pinterest_event_quality_keys` (coverage per key and event
type, Pinterest's issues); an object of the answer that breaks the spec is left out and listed in
`ops.record_issues` (`pinterest.event_quality`). Returns the statuses (XCom tab).

**If it fails**: a 401 names `pinterest_ads_default` (its token, or its refresh token: fix the connection; the
conversion token cannot read the score); 429 and 5xx were already retried honouring `Retry-After`, and Airflow
retries the task. The events were sent either way. Clear the task: a re-run replaces the day's read.
""",
}

with DAG(
    dag_id="pinterest_capi",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("17 * * * *", timezone="UTC"), assets=[MART_ATTRIBUTION]
    ),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    render_template_as_native_obj=True,
    params={
        "dry_run": Param(
            False, type="boolean", title="Dry run", description="Build, validate and record; send nothing."
        ),
        "test_mode": Param(
            False, type="boolean", title="Test mode", description="Send with ?test=true: Pinterest records nothing."
        ),
        "enable_event_kinds": Param(
            [],
            type="array",
            items={"type": "string", "enum": [*EVENT_KINDS, *sorted(map(stage_kind, STAGE_EVENTS))]},
            title="Event kinds to turn on",
            description="Kinds this run sends even when switched off in the operator's event_kinds.",
        ),
    },
    tags=["pin2deal", "pinterest", "capi"],
    doc_md=DOC,
) as dag:
    send = PinterestConversionsOperator(
        task_id="send_conversions",
        dry_run="{{ params.dry_run }}",
        test_mode="{{ params.test_mode }}",
        enable_event_kinds="{{ params.enable_event_kinds }}",
        stage_events=STAGE_EVENTS,
        execution_timeout=dt.timedelta(hours=1),
    )
    migrate_warehouse() >> fill_capi_outbox(stage_events=STAGE_EVENTS) >> send
    read_quality = PinterestEventQualityOperator(
        task_id="read_event_quality",
        lookback_period="14d",
        execution_timeout=dt.timedelta(minutes=10),
    )
    send >> read_quality
    document_tasks(dag, TASK_DOCS)
