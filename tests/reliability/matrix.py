"""The fault matrix: every fault pin2deal promises to survive, and the tests that prove it (whole-pipeline scenarios
here, focused ones in the per-stage suites). docs/reliability.md shows this table (``render_markdown``); a test
checks every named test exists, so the table cannot point at nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

FAULTS = "tests/reliability/test_reliability_faults.py"
HUBSPOT_ERRORS = "tests/hubspot/test_hubspot_api_errors.py"
HUBSPOT_DAG = "tests/hubspot/test_hubspot_deals_dag.py"
PINTEREST_HOOK = "tests/pinterest/test_pinterest_hook.py"
CAPI = "tests/capi/test_capi_send.py"
CAPI_PIPELINE = "tests/capi/test_capi_pipeline.py"
E2E = "tests/e2e/test_backfill.py"
SCHEDULER = "tests/reliability/test_reliability_scheduler.py"


RESTARTS = "test_postgresql_restarted_during_every_load_the_reconcile_and_the_conversions_sending"


@dataclass(frozen=True)
class Row:
    fault: str
    where: str  # which API / stage
    outcome: str  # what must happen
    proven_by: tuple[str, ...]  # "path::test"


ROWS: tuple[Row, ...] = (
    Row("HubSpot 429 storm, 10-second window (TEN_SECONDLY_ROLLING)", "hubspot_deals", "waited out, nothing lost",
        (f"{FAULTS}::test_hubspot_rate_limit_storms_ten_secondly_secondly_and_daily",
         f"{FAULTS}::test_5xx_429_dropped_and_hung_connections_on_every_endpoint_of_both_apis",
         f"{HUBSPOT_ERRORS}::test_429s_5xx_and_dropped_connections_are_retried_until_everything_is_loaded")),
    Row("HubSpot 429 storm, per-second search budget (SECONDLY)", "hubspot_deals", "waited out, nothing lost",
        (f"{FAULTS}::test_hubspot_rate_limit_storms_ten_secondly_secondly_and_daily",
         f"{HUBSPOT_ERRORS}::test_the_budgets_keep_extraction_under_the_sandbox_limits")),
    Row("HubSpot 429, daily budget spent (DAILY)", "hubspot_deals",
        "task fails at once (no worker held until midnight); the next run loses nothing",
        (f"{FAULTS}::test_hubspot_rate_limit_storms_ten_secondly_secondly_and_daily",)),
    Row("HubSpot 5xx and dropped connections on every endpoint", "hubspot_deals", "retried in the task",
        (f"{FAULTS}::test_5xx_429_dropped_and_hung_connections_on_every_endpoint_of_both_apis",
         f"{HUBSPOT_ERRORS}::test_429s_5xx_and_dropped_connections_are_retried_until_everything_is_loaded")),
    Row("Pinterest 429 with Retry-After", "pinterest_spend, pinterest_capi", "Retry-After honoured",
        (f"{FAULTS}::test_5xx_429_dropped_and_hung_connections_on_every_endpoint_of_both_apis",
         f"{PINTEREST_HOOK}::test_rate_limit_answers_code_8_are_retried_after_retry_after",
         f"{CAPI}::test_a_429_storm_is_waited_out_as_retry_after_says")),
    Row("Pinterest 5xx", "pinterest_spend, pinterest_capi", "retried in the task",
        (f"{FAULTS}::test_5xx_429_dropped_and_hung_connections_on_every_endpoint_of_both_apis",
         f"{PINTEREST_HOOK}::test_server_errors_are_retried",
         f"{CAPI}::test_5xx_dropped_connections_and_timeouts_are_retried_inside_the_task")),
    Row("Pinterest timeout (no answer)", "pinterest_spend, pinterest_capi",
        "retried under the same event ids; a lost answer is flagged possible_repeat (whole pipeline: no answer, "
        "then the connection closes; the client's read timeout: the CAPI tests)",
        (f"{FAULTS}::test_5xx_429_dropped_and_hung_connections_on_every_endpoint_of_both_apis",
         f"{CAPI}::test_5xx_dropped_connections_and_timeouts_are_retried_inside_the_task",
         f"{CAPI}::test_an_answer_lost_after_processing_is_resent_under_the_same_ids_and_flagged")),
    Row("Pinterest connection dropped mid-batch", "pinterest_spend, pinterest_capi", "retried, nothing doubled",
        (f"{FAULTS}::test_5xx_429_dropped_and_hung_connections_on_every_endpoint_of_both_apis",
         f"{CAPI}::test_5xx_dropped_connections_and_timeouts_are_retried_inside_the_task")),
    Row("422 with mixed per-event results", "pinterest_capi",
        "each event's verdict in the ledger; a failure is retried only when the deal changes",
        (f"{FAULTS}::test_a_422_with_mixed_per_event_results_gives_each_deal_its_own_verdict",
         f"{CAPI}::test_a_422_with_mixed_results_records_each_verdict_and_a_failure_is_retried_only_when_the_deal_changes")),
    Row("A 200 (or 422) whose body is not JSON, or whose events[] is shorter than the batch", "pinterest_capi",
        "decided on the status, never re-sent: a 200 sent, a 422 failed (reason unreadable_answer, the ledger says "
        "why)",
        (f"{CAPI}::test_a_200_or_422_without_a_verdict_per_event_is_decided_on_its_status_and_never_resent",)),
    Row("Systemic 400 (the API changed its validation: every request refused)", "pinterest_capi",
        "isolated by halving; past 10 events refused alone the run stops, every event left pending (none failed "
        "for good); the run after the fix sends each once",
        (f"{CAPI}::test_a_systemic_400_leaves_every_event_pending_and_stops_then_a_later_run_sends_each_once",)),
    Row("A won deal whose checkout was sent is merged into an open deal, which is won later", "pinterest_capi",
        "one checkout per lineage: the survivor's event is skipped (lineage_already_reported, naming the sent one); "
        "no sale reaches Pinterest twice, judged by lineage",
        (f"{FAULTS}::test_a_merge_after_a_sent_checkout_reports_the_sale_once_judged_by_lineage",
         f"{CAPI_PIPELINE}::test_a_merge_after_a_sent_checkout_never_sends_the_lineage_a_second_one")),
    Row("PostgreSQL restarted in the middle of a load", "hubspot_deals",
        "the task fails with the driver's error; its retry completes, nothing lost or doubled",
        (f"{FAULTS}::test_postgresql_restarted_mid_load_fails_the_task_cleanly_and_its_retry_completes",
         f"{FAULTS}::{RESTARTS}")),
    Row("PostgreSQL restarted during the load of Pinterest ad-days (pull_spend)", "pinterest_spend",
        "the task fails with the driver's error; Airflow's retry completes it, every ad-day once",
        (f"{FAULTS}::{RESTARTS}",)),
    Row("PostgreSQL restarted while the reconcile writes the mart (reconcile_deals)", "attribution_reconcile",
        "the task fails with the driver's error; Airflow's retry completes it, every won deal one outcome",
        (f"{FAULTS}::{RESTARTS}",)),
    Row("PostgreSQL crashes (immediate stop, WAL recovery) after reconcile_deals and reconcile_spend committed, "
        "while publish_marts waits to write", "attribution_reconcile",
        "the staged deals, their pending contributions and the staged spend survive recovery; the retry completes the "
        "run, the marts equal a full rebuild's (found: they were unlogged tables, emptied by the crash; fixed)",
        (f"{FAULTS}::test_postgresql_crashing_between_the_reconcile_steps_loses_no_deal_and_no_spend",)),
    Row("PostgreSQL restarted after Pinterest processed a conversion batch, before its ledger write",
        "pinterest_capi",
        "the task fails; its retry re-sends the batch under the same event ids, flagged possible_repeat: nothing "
        "lost, nothing sent twice unflagged",
        (f"{FAULTS}::{RESTARTS}",)),
    Row("Task process SIGKILLed mid-page", "hubspot_deals", "the next run resumes from the watermark",
        (f"{FAULTS}::test_an_extraction_killed_mid_page_loses_nothing_once_the_pipeline_runs_again",
         f"{HUBSPOT_DAG}::test_a_killed_run_resumes_from_its_watermark_and_loses_nothing")),
    Row("Task process SIGKILLed mid-conversion-batch", "pinterest_capi",
        "the next run re-sends the in-flight batch under the same ids, flagged possible_repeat",
        (f"{FAULTS}::test_a_sender_killed_mid_batch_is_finished_by_the_next_run_without_a_double_conversion",
         f"{CAPI}::test_a_worker_killed_between_request_and_ledger_write_is_resent_under_the_same_ids_and_flagged")),
    Row("Two runs of the same DAG at once (backfill overlapping the schedule)", "hubspot_deals, pinterest_capi",
        "every deal once, every conversion once",
        (f"{FAULTS}::test_two_runs_of_each_dag_at_once_load_and_send_everything_once",
         f"{E2E}::test_backfill_create_redoes_exactly_its_days_under_a_real_scheduler")),
    Row("`airflow backfill create` overlapping the scheduled runs, under a real scheduler (pools widened to 2 so "
        "the runs' API tasks overlap too)", "hubspot_deals, pinterest_spend",
        "every deal and ad-day of the windows once, nothing else; the HubSpot high-water mark not moved back by the "
        "backfill; an expired token refreshed once; no secret or personal data in the task log files",
        (f"{SCHEDULER}::test_a_backfill_overlapping_the_schedule_under_a_real_scheduler_loads_everything_once",)),
    Row("Two pinterest_spend runs at once, overlapping lookbacks, both inside their load", "pinterest_spend",
        "every ad-day once, none deleted, the expired token refreshed once (found: the second load failed on the "
        "primary key; fixed)",
        (f"{FAULTS}::test_two_pinterest_spend_runs_at_once_with_overlapping_lookbacks_load_every_ad_day_once",
         f"{SCHEDULER}::test_a_backfill_overlapping_the_schedule_under_a_real_scheduler_loads_everything_once")),
    Row("Expired access token", "pinterest_spend", "refreshed by OAuth once (by concurrent runs too), the new "
        "token never logged",
        (f"{FAULTS}::test_an_expired_access_token_is_refreshed_and_a_revoked_refresh_token_fails_fast",
         f"{FAULTS}::test_two_pinterest_spend_runs_at_once_with_overlapping_lookbacks_load_every_ad_day_once",
         f"{PINTEREST_HOOK}::test_oauth_refresh_replaces_an_expired_token_and_never_logs_it")),
    Row("Revoked refresh token", "pinterest_spend, pinterest_capi", "fails fast with an actionable message",
        (f"{FAULTS}::test_an_expired_access_token_is_refreshed_and_a_revoked_refresh_token_fails_fast",
         f"{PINTEREST_HOOK}::test_a_refused_refresh_fails_with_an_actionable_message",
         f"{CAPI}::test_a_revoked_token_fails_fast_leaves_the_events_pending_and_a_later_run_sends_them_once")),
)  # fmt: skip


def render_markdown() -> str:
    lines = ["| # | fault | DAG | promise | proven by |", "| --- | --- | --- | --- | --- |"]
    for number, row in enumerate(ROWS, start=1):
        tests = "<br>".join(f"`{ref.split('/')[-1]}`" for ref in row.proven_by)
        lines.append(f"| {number} | {row.fault} | {row.where} | {row.outcome} | {tests} |")
    return "\n".join(lines)


def render_summary() -> str:
    """The counts docs/reliability.md leads with, from the two tables (a test keeps them equal)."""
    from tests.reliability import bad_input

    tests = {ref for row in ROWS for ref in row.proven_by}
    scenarios = {ref for ref in tests if ref.startswith("tests/reliability/")}
    flagged = sum(case.expect != bad_input.OK for case in bad_input.CASES)
    return "\n".join((
        f"- **Faults injected**: {len(ROWS)} kinds (the matrix below), proven by {len(tests)} tests, {len(scenarios)} "
        "of them whole-pipeline or real-scheduler scenarios ending with the invariants.",
        f"- **Inputs tried**: {len(bad_input.CASES)} bad-input cases ({flagged} flagged naming the record and the "
        f"field, {len(bad_input.CASES) - flagged} valid and loaded as they are), in one world next to good records.",
        "- **Deals lost: 0. Conversions duplicated: 0** (apart from re-sends after an unknown outcome, flagged "
        "`possible_repeat` and deduplicated by Pinterest by event id). **Secrets or personal data leaked: 0.**",
    ))  # fmt: skip
