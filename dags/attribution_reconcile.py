"""HubSpot deals x Pinterest spend -> ``mart.*``: what a closed deal costs per campaign, ad group and pin."""

from __future__ import annotations

import datetime as dt
import os

from airflow.providers.common.sql.operators.sql import SQLCheckOperator, SQLExecuteQueryOperator
from airflow.sdk import DAG, Param

from pin2deal.dag_defaults import (
    DEFAULT_ARGS,
    FAILED_TASK_ADVICE,
    MART_ATTRIBUTION,
    RAW_HUBSPOT_DEALS,
    RAW_PINTEREST_SPEND,
    document_tasks,
)
from pin2deal.operators.reconcile import (
    ChannelSpendCsvOperator,
    ReconcileFinishOperator,
    ReconcilePlanOperator,
    ReconcileStepOperator,
    SQLWarningCheckOperator,
)
from pin2deal.paths import PROJECT_ROOT, SQL_DIR
from pin2deal.reconcile.plan import RULE_FILES
from pin2deal.tasks import migrate_warehouse

WAREHOUSE = "pin2deal_warehouse"
# Where other channels' spend CSV files are dropped (docs/attribution.md); override per run with the param.
CHANNEL_SPEND_DIR = os.environ.get("PIN2DEAL_CHANNEL_SPEND_DIR", str(PROJECT_ROOT / "data" / "channel_spend"))
HOME_CURRENCY = os.environ.get("PIN2DEAL_HOME_CURRENCY", "USD")
# The cohort CAC's own won-within window beside 7, 30 and 90 days (docs/attribution.md, "Cohort windows"): 60 days, the
# middle of the 30-90 days deals take to close.
COHORT_WINDOW_DAYS = int(os.environ.get("PIN2DEAL_COHORT_WINDOW_DAYS", "60"))
# A reconcile step: one SQL file, in one transaction, told its run, home currency and cohort window.
RECONCILE_STEP = {
    "conn_id": WAREHOUSE,
    "parameters": {
        "run_id": "{{ run_id }}",
        "home_currency": "{{ params.home_currency }}",
        "cohort_window_days": "{{ params.cohort_window_days }}",
    },
}
# The raw tables the steps read through the rule views (their lineage names these, not the views).
HUBSPOT_TABLES = (
    "raw.hubspot_deals", "raw.hubspot_deal_contacts", "raw.hubspot_deal_ids", "raw.hubspot_pipeline_stages",
)  # fmt: skip
PINTEREST_ENTITIES = (
    "raw.pinterest_ad_accounts", "raw.pinterest_campaigns", "raw.pinterest_ad_groups", "raw.pinterest_ads",
)  # fmt: skip
SPEND_STAGED = ("mart.performance_spend", "mart.performance_spend_periods")
PENDING = ("mart.performance_pending", "mart.channel_performance_pending")
# What publish_marts publishes: the views readers query.
MARTS = ("mart.deal_attribution", "mart.performance", "mart.cohort_cac", "mart.truth_vs_platform",
         "mart.channel_performance", "mart.funnel", "mart.funnel_entries")  # fmt: skip
# A failed data check fails again: one quick retry covers a dropped connection, no more.
CHECK_RETRIES = {"retries": 1, "retry_delay": dt.timedelta(seconds=5), "retry_exponential_backoff": 0}
WARNING_CHECKS = ("spend_on_unlisted_campaigns", "won_without_won_time", "bad_amounts", "non_iso_currencies")

DOC = (
    """
### Attribution reconcile

Runs when `hubspot_deals` or `pinterest_spend` publishes new raw data (or by hand), never from a data interval:

1. **load_channel_spend**: every new CSV file of other channels' spend in `channel_spend_dir` into
   `raw.channel_spend` (bad lines in `ops.record_issues` as `file:line`; a file is never loaded twice).
2. **remember_entity_names**, **plan_reconcile**: a full rebuild (first run, a rule, the stage metadata, the ad
   accounts or an entity name changed, or `full_rebuild`) or only what was loaded into raw since the last finished
   run (`ops.reconcile_runs`).
3. **define_rules**: the rules as views and functions, one file each in `include/sql/reconcile/` (won, lead, channel,
   resolution, CAC, ROAS, periods, time to close).
4. Side by side: **check_duplicate_stable_keys** (blocking), **reconcile_deals** (the deal rows: a rebuild's new
   generation, or the changed deals staged) and **reconcile_spend** (the spend sums, staged). Readers see none of
   it yet.
5. **publish_marts**, one transaction: `mart.performance`, `mart.cohort_cac`, `mart.truth_vs_platform`,
   `mart.channel_performance`, the stage funnel (`mart.funnel`) and the staged deals, then the blocking checks
   (`include/sql/checks/`, naming the rows), then the publication: readers (the briefing, the UI page, the
   Conversions API sender) see the new marts all at once, or, when a check fails, keep the last published ones.
6. Warning checks from `include/sql/checks/`, logged and counted in **finish_reconcile**'s return value, which
   publishes the `mart_attribution` Asset.

See docs/attribution.md (the rules, with a worked example), docs/reconcile.md (what readers see, incremental runs
and rebuilds) and docs/data-model.md (the tables).
"""
    + FAILED_TASK_ADVICE
)

SQL_ADVICE = (
    "the log names the SQL file and PostgreSQL's error (a rule edited with an error, a migration not applied: see "
    "`migrate_warehouse`); fix it and clear the task. Clearing is safe: the run replays its own plan"
)
WARNING_DOC = """
Warning check (`include/sql/checks/{name}.sql`): logs each offending record and returns their count for the run's
summary; findings never fail it. A rebuild looks at everything, an incremental run at what was loaded since the last
finished run.

**If it fails**: only a SQL or connection error can fail it; clear the task.
"""
TASK_DOCS = {
    "load_channel_spend": """
Loads every new CSV file of other channels' spend in `channel_spend_dir` into `raw.channel_spend`; bad lines go
to `ops.record_issues` as `file:line`, a file is never loaded twice. Returns files and rows loaded.

**If it fails**: the folder is missing or unreadable: check the `channel_spend_dir` param
(`PIN2DEAL_CHANNEL_SPEND_DIR`) and its permissions, then clear. Bad lines never fail it.
""",
    "define_rules": f"""
(Re)defines the attribution rules as views and functions, one file each in `include/sql/reconcile/` (won, lead,
channel, resolution, CAC, forecast CAC, ROAS, periods, time to close), so every later step uses the current rules.

**If it fails**: {SQL_ADVICE}.
""",
    "remember_entity_names": f"""
Records the current names of the ad account, campaigns, ad groups and ads, so that a rename is noticed and the
marts are rebuilt with the new names.

**If it fails**: {SQL_ADVICE}.
""",
    "plan_reconcile": """
Decides what this run rebuilds: everything (first run, a rule, the stage metadata, an account or a name changed, or
`full_rebuild`) or only what raw received since the last finished run (`ops.reconcile_runs`); records the plan.

**If it fails**: a connection error, or a plan that cannot be made (the log says why); clear the task, or trigger
with `full_rebuild` to rebuild everything.
""",
    "check_duplicate_stable_keys": """
Blocking check: two live deals sharing one stable key would send one conversion for two sales, so the run
publishes nothing (`publish_marts` does not run; `reconcile_deals` beside it fails on the key too). A rebuild checks
every key, an incremental run the keys of the deals loaded since the last finished run.

**If it fails**: the message names the keys and their deals: merge or archive the duplicate in HubSpot (or fix the
legacy id that joined them), let `hubspot_deals` load it, then clear this task.
""",
    "reconcile_deals": f"""
Decides the planned deals' rows of `mart.deal_attribution`: channel, campaign / ad group / pin resolution, won, lead,
amounts (docs/attribution.md). A rebuild writes them into its new generation, an incremental run stages the changed
deals for `publish_marts`: readers see none of it before `publish_marts` commits.

**If it fails**: {SQL_ADVICE}. A timeout on a very large full rebuild: raise this task's `execution_timeout`.
""",
    "reconcile_spend": f"""
Sums Pinterest spend and delivery per grain (ad, ad group, campaign, account) and period for the planned days and
stages them in `mart.performance_spend` for `publish_marts`; it needs no deal, so it runs beside `reconcile_deals`.

**If it fails**: {SQL_ADVICE}.
""",
    "publish_marts": f"""
One transaction: the staged deals replace their published rows (incremental) and `mart.performance`,
`mart.cohort_cac`, `mart.truth_vs_platform`, `mart.channel_performance` and the stage funnel (`mart.funnel`) are
written for the planned days (the
staged spend joined to the CRM outcomes per grain and period, CAC, ROAS, epik coverage; Pinterest against the other
channels on one CAC); then the blocking checks; then `ops.mart_publication` points readers at the result. Until it
commits, readers see the last published marts, whole.

Blocking checks, on what the run wrote (a rebuild: everything): every row written to `mart.performance` keeps the
mart's contract (its constraints, migration 050: counts never negative, CAC only with won deals, ROAS only with
spend, cohort wins within leads), and at most `max_unresolved_paid_share` (25%) of Pinterest-paid deals have no
resolved campaign (`include/sql/checks/unresolved_paid_share.sql`: above it, CAC per campaign is not trustworthy).
A failed check fails the task at once and publishes nothing: readers keep the last published marts, and the next
run reconciles this run's changes again.

**If it fails**: "blocking check unresolved_paid_share failed": the message lists the share and the first
unresolved deals with their `utm_campaign`: fix the campaign id URL macro or the `utm_campaign` values in the ads
(docs/attribution.md), or run once with a higher `max_unresolved_paid_share` to publish anyway. "violates check
constraint": the message names the rule and the row: a rule file changed in a way that breaks the contract
(docs/data-model.md), or an incremental run drifted from what a rebuild gives: trigger with `full_rebuild`; if it
fails again, report it with the row. "The spend reconcile_spend staged ... is gone": `reconcile_spend` last ran for
another run (this task was cleared alone after a later run): clear `reconcile_spend` and this task. Otherwise:
{SQL_ADVICE}.
""",
    **{name: WARNING_DOC.format(name=name) for name in WARNING_CHECKS},
    "finish_reconcile": """
Records the run as finished in `ops.reconcile_runs` with the warning checks' counts and publishes the
`mart_attribution` Asset, which starts `pinterest_capi` and `daily_briefing`; drops the marts' generations nobody
reads any more. Returns the run's summary.

**If it fails**: a connection error; clear it: nothing downstream has run yet.
""",
}

with DAG(
    dag_id="attribution_reconcile",
    schedule=(RAW_HUBSPOT_DEALS | RAW_PINTEREST_SPEND),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    template_searchpath=[str(SQL_DIR)],
    params={
        "full_rebuild": Param(False, type="boolean", title="Full rebuild", description="Rebuild every mart row."),
        "home_currency": Param(
            HOME_CURRENCY,
            type="string",
            pattern="^[A-Z]{3}$",
            title="Home currency",
            description="The CRM's home currency (ISO 4217): the currency of amount_in_home_currency and revenue.",
        ),
        "cohort_window_days": Param(
            COHORT_WINDOW_DAYS,
            type="integer",
            minimum=1,
            maximum=3650,
            title="Cohort window (days)",
            description="mart.cohort_cac.won_within_window: leads won within this many days of their lead day.",
        ),
        "channel_spend_dir": Param(
            CHANNEL_SPEND_DIR, type="string", title="Channel spend folder", description="Folder of spend CSV files."
        ),
        "max_unresolved_paid_share": Param(
            0.25,
            type="number",
            minimum=0,
            maximum=1,
            title="Max unresolved paid share",
            description="Fail when more than this share of Pinterest-paid deals resolve to no campaign.",
        ),
    },
    tags=["pin2deal", "reconcile", "mart"],
    doc_md=DOC,
) as dag:
    load_channel_spend = ChannelSpendCsvOperator(task_id="load_channel_spend", folder="{{ params.channel_spend_dir }}")
    define_rules = SQLExecuteQueryOperator(
        task_id="define_rules", conn_id=WAREHOUSE, sql=[f"reconcile/{name}" for name in RULE_FILES]
    )
    remember_entity_names = SQLExecuteQueryOperator(
        task_id="remember_entity_names", conn_id=WAREHOUSE, sql="reconcile/entity_names.sql"
    )
    plan_reconcile = ReconcilePlanOperator(task_id="plan_reconcile")
    check_duplicate_stable_keys = SQLCheckOperator(
        task_id="check_duplicate_stable_keys",
        conn_id=WAREHOUSE,
        sql="checks/duplicate_stable_keys.sql",
        **CHECK_RETRIES,
    )
    reconcile_deals = ReconcileStepOperator(
        task_id="reconcile_deals",
        sql="reconcile/deal_attribution.sql",
        reads=(*HUBSPOT_TABLES, *PINTEREST_ENTITIES, "ops.pinterest_entity_names"),
        writes=(
            "mart.deal_attribution", "mart.deal_attribution_replaced", "mart.performance_pending",
            "mart.channel_performance_pending", "ops.lineage_moments", "ops.record_issues",
        ),
        **RECONCILE_STEP,
    )  # fmt: skip
    reconcile_spend = ReconcileStepOperator(
        task_id="reconcile_spend",
        sql="reconcile/spend.sql",
        reads=("raw.pinterest_ad_daily", "raw.pinterest_ad_daily_deleted", *PINTEREST_ENTITIES),
        writes=SPEND_STAGED,
        **RECONCILE_STEP,
    )
    publish_marts = ReconcileStepOperator(
        task_id="publish_marts",
        sql="reconcile/publish_marts.sql",
        reads=(*SPEND_STAGED, *PENDING, "mart.deal_attribution", "mart.deal_attribution_replaced",
               "raw.pinterest_ad_daily", *PINTEREST_ENTITIES, "raw.channel_spend",
               # the stage funnel: each lineage's deals and their stage entries, the pipelines' stages
               "raw.hubspot_deals", "raw.hubspot_deal_ids", "raw.hubspot_pipeline_stages"),
        writes=(*MARTS, *PENDING, "mart.deal_attribution_replaced", "ops.mart_publication"),
        **RECONCILE_STEP,
    )  # fmt: skip
    warnings = [
        SQLWarningCheckOperator(task_id=name, conn_id=WAREHOUSE, sql=f"checks/{name}.sql", **CHECK_RETRIES)
        for name in WARNING_CHECKS
    ]
    finish_reconcile = ReconcileFinishOperator(
        task_id="finish_reconcile", warning_checks=WARNING_CHECKS, outlets=[MART_ATTRIBUTION]
    )

    migrate_warehouse() >> define_rules >> [load_channel_spend, remember_entity_names] >> plan_reconcile
    plan_reconcile >> [check_duplicate_stable_keys, reconcile_deals, reconcile_spend] >> publish_marts
    publish_marts >> warnings >> finish_reconcile
    document_tasks(dag, TASK_DOCS)
