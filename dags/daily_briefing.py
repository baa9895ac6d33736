"""The daily briefing: the marts in words and a chart, every morning and after each reconcile."""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param

from pin2deal.briefing.rules import BriefingSettings
from pin2deal.dag_defaults import (
    DEFAULT_ARGS,
    FAILED_TASK_ADVICE,
    MART_ATTRIBUTION,
    DeadlineDAG,
    briefing_deadline,
    document_tasks,
)
from pin2deal.operators.briefing import BriefingDeliveryOperator, DailyBriefingOperator
from pin2deal.tasks import migrate_warehouse

# When the morning briefing runs (UTC cron); it briefs the last account day that had ended by then.
SCHEDULE = os.environ.get("PIN2DEAL_BRIEFING_SCHEDULE", "0 7 * * *")
# Slack delivery is off unless an HTTP connection to an incoming webhook is named here (or in the trigger form).
SLACK_CONN_ID = os.environ.get("PIN2DEAL_BRIEFING_SLACK_CONN_ID", "")
# The language-model rewrite is off unless an OpenAI-compatible HTTP connection is named here (or in the form).
LLM_CONN_ID = os.environ.get("PIN2DEAL_BRIEFING_LLM_CONN_ID", "")

DOC = (
    """
### Daily briefing

What a marketing lead reads every morning: per Pinterest campaign leads, won deals, CAC, ROAS and time to close
for the week (and 28 days), Pinterest against the other channels on the same CAC, what changed (CAC moves,
campaigns spending without leads, best and worst pin), and the health behind it (epik coverage, unresolved
campaigns, conversions sent, Pinterest's Event Quality Score and warnings, freshness). Stale data is said first.

Runs at 07:00 UTC (`PIN2DEAL_BRIEFING_SCHEDULE`) and after every `attribution_reconcile` (the `mart_attribution`
Asset). **The day**: the last day of the ad account's time zone that had ended at the run's logical date, or at the
moment the run was created when it has none (Asset-triggered and manual runs). A re-run replaces that day's briefing.

1. **write_briefing**: reads the marts (one snapshot), writes `<day>.md`, `<day>.png`, `<day>.svg` under
   `PIN2DEAL_BRIEFING_DIR` (default `.local/briefings`), stores the day's row in `ops.briefings`, returns the text.
2. **deliver_briefing**: its *Rendered Template* view shows the briefing as Markdown; posts it to Slack when
   `slack_conn_id` names an HTTP connection to an incoming webhook (scheduled and manual runs only).

Optional: `llm_conn_id` (an OpenAI-compatible HTTP connection) has a language model rewrite the text; the rewrite
is kept only when every number in it is one of the template's (same value, same unit), else the log says why.

Thresholds of the judgement rules are the params below (docs/briefing.md). On failure: the log names the query or
the file; a re-run is safe.

A Deadline alert fires when a run is not finished `PIN2DEAL_BRIEFING_DEADLINE_MINUTES` (120) minutes after it was
queued (docs/operations.md).
"""
    + FAILED_TASK_ADVICE
)

TASK_DOCS = {
    "write_briefing": """
Reads the marts in one read-only snapshot, writes `<day>.md`, `<day>.png` and `<day>.svg` under
`PIN2DEAL_BRIEFING_DIR` and the day's row of `ops.briefings`; returns the day, the text and the files' paths.

**If it fails**: the log names the query or the file: a missing mart means `attribution_reconcile` has not run yet;
a file error means `PIN2DEAL_BRIEFING_DIR` is not writable. Clear the task: a re-run replaces the day's briefing.
""",
    "deliver_briefing": """
Shows the briefing as Markdown (its Rendered Template) and posts it to Slack when `slack_conn_id` names a webhook
connection (scheduled and manual runs only).

**If it fails**: Slack refused the post (a 4xx: the webhook was revoked or the connection's password path is wrong;
429 and 5xx were retried). Fix the connection and clear the task, or clear `slack_conn_id` for this run.
""",
}

SETTING_PARAMS = {
    "cac_move_threshold": ("number", "Relative CAC change vs the 4 weeks before that is reported (0.25 = 25%)."),
    "cac_move_min_won": ("integer", "Won deals each window needs before its CAC move is reported."),
    "channel_min_won": ("integer", "Won deals Pinterest and the other channels each need to be judged."),
    "channel_margin": ("number", "CAC difference below which Pinterest and the others are 'about as efficient'."),
    "ad_min_won": ("integer", "Won deals in 28 days a pin needs to be ranked best or worst by CAC."),
    "stale_spend_days": ("integer", "Days the newest spend day may lag the briefing day."),
    "stale_deal_hours": ("integer", "Hours without a deal change (to the end of the day) before deals are stale."),
    "min_epik_coverage": ("number", "epik coverage of Pinterest-won deals below which health warns."),
    "max_unresolved_share": ("number", "Share of Pinterest-paid leads without a campaign above which health warns."),
    "min_key_coverage": ("number", "Share of the week's sent Conversions API events carrying the click id, an "
                         "email or a phone below which health advises."),
    "max_campaigns": ("integer", "Campaign lines written (by the week's spend); the rest are counted."),
}

with DeadlineDAG(
    dag_id="daily_briefing",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(SCHEDULE, timezone="UTC"),
        assets=MART_ATTRIBUTION,
    ),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={
        **{
            name: Param(getattr(BriefingSettings, name), type=kind, minimum=0, title=name, description=text)
            for name, (kind, text) in SETTING_PARAMS.items()
        },
        "slack_conn_id": Param(
            SLACK_CONN_ID,
            type="string",
            title="Slack connection",
            description="HTTP connection of a Slack incoming webhook; empty: no delivery.",
        ),
        "llm_conn_id": Param(
            LLM_CONN_ID,
            type="string",
            title="Rewrite connection",
            description="OpenAI-compatible HTTP connection for an optional rewrite (kept only if every number in it "
            "is one of the template's); empty: no rewrite.",
        ),
    },
    tags=["pin2deal", "briefing"],
    doc_md=DOC,
    deadline=briefing_deadline(),
) as dag:
    write_briefing = DailyBriefingOperator(
        task_id="write_briefing",
        settings={name: "{{ params." + name + " }}" for name in SETTING_PARAMS},
        llm_conn_id="{{ params.llm_conn_id }}",
        execution_timeout=dt.timedelta(minutes=15),
        doc_md="Reads the marts, writes the Markdown and chart files and the `ops.briefings` row of the day.",
    )
    deliver_briefing = BriefingDeliveryOperator(
        task_id="deliver_briefing",
        markdown="{{ ti.xcom_pull(task_ids='write_briefing')['markdown'] }}",
        briefing_date="{{ ti.xcom_pull(task_ids='write_briefing')['briefing_date'] }}",
        slack_conn_id="{{ params.slack_conn_id }}",
        execution_timeout=dt.timedelta(minutes=5),
        doc_md="Shows the briefing (Rendered Template) and posts it to Slack when a connection is set.",
    )
    migrate_warehouse() >> write_briefing >> deliver_briefing
    document_tasks(dag, TASK_DOCS)
