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
E2E = "tests/e2e/test_backfill.py"


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
    Row("PostgreSQL restarted in the middle of a load", "hubspot_deals",
        "the task fails with the driver's error; its retry completes, nothing lost or doubled",
        (f"{FAULTS}::test_postgresql_restarted_mid_load_fails_the_task_cleanly_and_its_retry_completes",)),
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
    Row("Expired access token", "pinterest_spend", "refreshed by OAuth, the new token never logged",
        (f"{FAULTS}::test_an_expired_access_token_is_refreshed_and_a_revoked_refresh_token_fails_fast",
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
