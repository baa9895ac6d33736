"""The sender against the sandbox over HTTP and a real warehouse: batching, per-event answers, skips, dry and test
runs, and every fault of the issue. Outbox rows are arranged by hand (the outbox SQL is tested with the mart)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from pin2deal.hooks.pinterest import PinterestTokenExpired
from pin2deal.retrying import TransientAPIError
from sandbox.settings import FaultRates
from tests.capi.capi_worlds import (
    arrange_outbox,
    assert_events_conform,
    contact,
    events_fault,
    ledger,
    official_spec_or_skip,
    outbox_row,
    received,
    received_counts,
    script_faults,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime.now(dt.UTC)


def won_deals(count: int, *, first: int = 1, age: dt.timedelta = dt.timedelta(days=1)) -> list[dict[str, Any]]:
    """``count`` sendable deals won ``age`` ago (a minute apart, oldest first)."""
    return [outbox_row(n, NOW - age + dt.timedelta(seconds=n)) for n in range(first, first + count)]


def assert_every_deal_explained(warehouse, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    rows_by_event = ledger(warehouse)
    assert set(rows_by_event) == {row["event_id"] for row in rows}
    for event_id, entry in rows_by_event.items():
        assert entry["state"] in ("sent", "failed", "skipped"), (event_id, entry["state"])
        if entry["state"] == "skipped":
            assert entry["reason"], event_id
        if entry["state"] == "failed":
            assert entry["error_message"], event_id
    return rows_by_event


def assert_duplicates_flagged(server, warehouse) -> None:
    """An event Pinterest received twice is flagged possible_repeat in the ledger, and always under one id."""
    entries = ledger(warehouse)
    for event_id, count in received_counts(server).items():
        assert event_id in entries
        if count > 1:
            assert entries[event_id]["possible_repeat"], f"{event_id} arrived {count} times unflagged"


@pytest.mark.pinterest_spec
def test_batches_of_1000_conforming_to_the_spec_each_event_once_and_a_rerun_sends_nothing(
    capi_sandbox, warehouse, send_conversions
) -> None:
    spec = official_spec_or_skip()
    server = capi_sandbox()
    rows = won_deals(2500)
    arrange_outbox(warehouse, rows)

    summary = send_conversions()

    assert summary | {"skipped_by_reason": None} == {
        "processed": 2500, "sent": 2500, "failed": 0, "skipped": 0, "skipped_by_reason": None,
        "possible_repeats": 0, "data_warnings": 0, "requests": 3, "bad_request_splits": 0, "reopened": 0,
        "dry_run": False, "test_mode": False,
    }  # fmt: skip
    events = received(server)
    assert len(events) == 2500 and set(received_counts(server).values()) == {1}
    assert_events_conform(spec, [event["event"] for event in events])
    entries = assert_every_deal_explained(warehouse, rows)
    assert {(e["state"], e["http_status"], e["event_status"], e["attempts"]) for e in entries.values()} == {
        ("sent", 200, "processed", 1)
    }
    assert len({e["request_id"] for e in entries.values()}) == 3
    assert all(e["run_id"] == "manual__1" and e["payload_hash"] and e["sent_at"] for e in entries.values())
    sent = events[0]["event"]
    assert sent["event_id"] == "won_hubspot:1" and sent["custom_data"]["order_id"] == "hubspot:1"

    again = send_conversions(run_id="manual__2")
    assert (again["processed"], again["requests"]) == (0, 0)
    assert len(received(server)) == 2500
    assert {e["run_id"] for e in ledger(warehouse).values()} == {"manual__1"}


def test_a_422_with_mixed_results_records_each_verdict_and_a_failure_is_retried_only_when_the_deal_changes(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox()
    fresh = won_deals(5)
    stale = won_deals(3, first=100, age=dt.timedelta(days=9))  # passes our 30-day setting, not Pinterest's 7 days
    arrange_outbox(warehouse, fresh + stale)

    summary = send_conversions(max_event_age_days=30)

    assert (summary["sent"], summary["failed"], summary["requests"]) == (5, 3, 1)
    entries = assert_every_deal_explained(warehouse, fresh + stale)
    for row in stale:
        entry = entries[row["event_id"]]
        assert (entry["state"], entry["reason"], entry["http_status"], entry["event_status"]) == (
            "failed", "rejected", 422, "failed"
        )  # fmt: skip
        assert "older than 7 days" in entry["error_message"]
    assert {entries[row["event_id"]]["state"] for row in fresh} == {"sent"}

    assert send_conversions(max_event_age_days=30)["processed"] == 0  # failed and unchanged: not retried
    corrected = {**stale[0], "won_at": NOW - dt.timedelta(hours=5)}
    arrange_outbox(warehouse, [outbox_row(100, corrected["won_at"])])  # the deal changed: new inputs
    retry = send_conversions(max_event_age_days=30)
    assert (retry["processed"], retry["sent"]) == (1, 1)
    assert ledger(warehouse)[stale[0]["event_id"]]["attempts"] == 2
    assert received_counts(server)[stale[0]["event_id"]] == 1


def test_every_skip_reason_is_recorded_final_until_the_settings_change_and_a_dry_run_records_without_sending(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox()
    day = NOW - dt.timedelta(days=1)
    rows = {
        "sendable": outbox_row(1, day),
        "channel_not_configured": outbox_row(2, day, channel="pinterest_organic"),
        "no_won_time": outbox_row(3, None),
        "too_old": outbox_row(4, NOW - dt.timedelta(days=8)),
        "consent_denied": outbox_row(6, day, deal_consent=False),
        "no_identifier": outbox_row(7, day, contacts=[contact(7, email=None)]),
    }
    arrange_outbox(warehouse, list(rows.values()))

    dry = send_conversions(dry_run=True)

    assert received(server) == []
    assert dry["skipped_by_reason"] == {reason: 1 for reason in rows if reason != "sendable"} | {"dry_run": 1}
    entries = assert_every_deal_explained(warehouse, list(rows.values()))
    for reason, row in rows.items():
        entry = entries[row["event_id"]]
        assert (entry["state"], entry["reason"]) == ("skipped", "dry_run" if reason == "sendable" else reason)
        assert entry["error_message"], reason  # the detail: which value, which setting
    assert entries[rows["sendable"]["event_id"]]["payload_hash"]

    real = send_conversions()

    # Every real skip is final while the deal and the settings are unchanged: only the dry run's event is decided.
    assert (real["processed"], real["sent"]) == (1, 1)
    assert list(received_counts(server)) == [rows["sendable"]["event_id"]]
    assert (
        ledger(warehouse)[rows["sendable"]["event_id"]]["payload_hash"]
        == (entries[rows["sendable"]["event_id"]]["payload_hash"])
    )
    assert send_conversions()["processed"] == 0, "channel_not_configured and the others are not decided again"
    organic = send_conversions(channels=["pinterest_paid", "pinterest_organic"])  # a setting changed
    assert (organic["reopened"], organic["processed"], organic["sent"]) == (5, 5, 1)
    assert ledger(warehouse)[rows["channel_not_configured"]["event_id"]]["state"] == "sent"
    opt_out = send_conversions(channels=["pinterest_paid", "pinterest_organic"], consent_denied="opt_out")
    assert (opt_out["reopened"], opt_out["sent"]) == (4, 1)
    assert received(server)[-1]["event"]["opt_out"] is True
    assert {reason: ledger(warehouse)[rows[reason]["event_id"]]["reason"] for reason in
            ("no_won_time", "too_old", "no_identifier")} == {"no_won_time": "no_won_time", "too_old": "too_old",
                                                             "no_identifier": "no_identifier"}  # fmt: skip


def test_an_unusable_amount_or_currency_is_sent_without_value_and_the_ledger_says_why(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox()
    day = NOW - dt.timedelta(days=1)
    rows = {
        "usd": outbox_row(1, day, amount="1200.50", amount_raw="1200.50", currency="usd", currency_raw="usd"),
        "no amount": outbox_row(2, day, amount=None, amount_raw=None),
        "negative": outbox_row(3, day, amount="-50", amount_raw="-50"),
        "not a number": outbox_row(4, day, amount=None, amount_raw="call me"),
        "bad currency": outbox_row(5, day, currency=None, currency_raw="dollars"),
    }
    arrange_outbox(warehouse, list(rows.values()))

    summary = send_conversions()

    assert (summary["sent"], summary["skipped"], summary["data_warnings"]) == (5, 0, 4)
    events = {event["event_id"]: event["event"] for event in received(server)}
    custom = {name: events[row["event_id"]]["custom_data"] for name, row in rows.items()}
    assert custom["usd"] == {"value": "1200.50", "currency": "USD", "order_id": "hubspot:1"}
    for name in ("no amount", "negative", "not a number", "bad currency"):
        assert set(custom[name]) == {"order_id"}, name
    entries = ledger(warehouse)
    warnings = {name: entries[row["event_id"]]["data_warning"] for name, row in rows.items()}
    assert warnings == {
        "usd": None,
        "no amount": "no amount: sent without value and currency",
        "negative": "amount '-50' is negative: sent without value and currency",
        "not a number": "amount 'call me' is not a number: sent without value and currency",
        "bad currency": "currency 'dollars' is not an ISO 4217 code: sent without value and currency",
    }
    assert {entry["state"] for entry in entries.values()} == {"sent"}


def test_test_mode_sends_with_test_true_records_the_verdict_and_pinterest_records_nothing(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox()
    rows = won_deals(3) + won_deals(1, first=50, age=dt.timedelta(days=9))
    arrange_outbox(warehouse, rows)

    summary = send_conversions(test_mode=True, max_event_age_days=30)

    assert received(server) == []
    assert summary["skipped_by_reason"] == {"test_mode": 4}
    entries = ledger(warehouse)
    assert [entries[row["event_id"]]["event_status"] for row in rows] == ["processed"] * 3 + ["failed"]
    assert {entries[row["event_id"]]["http_status"] for row in rows} == {422}
    real = send_conversions()
    assert real["sent"] == 3 and len(received(server)) == 3


def test_a_429_storm_is_waited_out_as_retry_after_says(capi_sandbox, warehouse, send_conversions) -> None:
    server = capi_sandbox()
    rows = won_deals(1500)
    arrange_outbox(warehouse, rows)
    script_faults(server, ["rate_limit"] * 4)

    started = time.monotonic()
    summary = send_conversions()

    assert time.monotonic() - started >= 4 * 1.0  # Retry-After: 1 per 429
    assert (summary["sent"], summary["requests"], summary["possible_repeats"]) == (1500, 6, 0)
    assert set(received_counts(server).values()) == {1}
    entries = assert_every_deal_explained(warehouse, rows)
    assert sorted({e["attempts"] for e in entries.values()}) == [1, 5]


@pytest.mark.parametrize("fault", ["server_error", "drop_connection", "hang"])
def test_5xx_dropped_connections_and_timeouts_are_retried_inside_the_task(
    fault, capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox(faults=FaultRates(hang_seconds=30))
    rows = won_deals(1200)
    arrange_outbox(warehouse, rows)
    script_faults(server, [fault, None, fault])  # the first request fails once, the second once too

    summary = send_conversions()

    assert (summary["sent"], summary["requests"]) == (1200, 4)
    assert set(received_counts(server).values()) == {1}
    entries = assert_every_deal_explained(warehouse, rows)
    assert {e["attempts"] for e in entries.values()} == {2}
    # No answer at all (drop, hang): Pinterest may have processed the attempt, so its events are flagged.
    assert {e["possible_repeat"] for e in entries.values()} == {fault != "server_error"}
    assert_duplicates_flagged(server, warehouse)


def test_an_answer_lost_after_processing_is_resent_under_the_same_ids_and_flagged(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox(faults=FaultRates(hang_seconds=30))
    rows = won_deals(10)
    arrange_outbox(warehouse, rows)
    script_faults(server, ["lost_answer"])

    summary = send_conversions()

    assert (summary["sent"], summary["possible_repeats"]) == (10, 10)
    assert set(received_counts(server).values()) == {2}
    assert [e["deduplicated"] for e in received(server)] == [False] * 10 + [True] * 10
    assert_duplicates_flagged(server, warehouse)


def test_a_whole_request_400_is_split_until_the_offending_events_are_isolated(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox()
    rows = won_deals(1000)
    arrange_outbox(warehouse, rows)
    poisoned = [rows[17]["event_id"], rows[600]["event_id"], rows[601]["event_id"]]
    script_faults(server, [], poison=poisoned)

    summary = send_conversions()

    assert (summary["sent"], summary["failed"]) == (997, 3)
    assert summary["requests"] <= 2 * 3 * 10 + 1  # at most two requests per halving per offender
    assert set(received_counts(server)) == {row["event_id"] for row in rows} - set(poisoned)
    entries = assert_every_deal_explained(warehouse, rows)
    for event_id in poisoned:
        assert (entries[event_id]["state"], entries[event_id]["reason"], entries[event_id]["http_status"]) == (
            "failed", "bad_request", 400
        )  # fmt: skip
        assert "is malformed" in entries[event_id]["error_message"]
    assert not any(entry["possible_repeat"] for entry in entries.values())


@pytest.mark.parametrize("fault", ["not_json", "short_events"])
def test_a_200_or_422_without_a_verdict_per_event_is_decided_on_its_status_and_never_resent(
    fault, capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox()
    fresh = won_deals(6)
    arrange_outbox(warehouse, fresh)
    events_fault(server, fault)

    summary = send_conversions()

    assert (summary["sent"], summary["failed"], summary["requests"]) == (6, 0, 1)
    entries = assert_every_deal_explained(warehouse, fresh)
    for entry in entries.values():
        assert (entry["state"], entry["reason"], entry["http_status"], entry["event_status"]) == (
            "sent", "unreadable_answer", 200, None
        )  # fmt: skip
        assert "recorded sent on the status" in entry["warning_message"]
    assert send_conversions(run_id="manual__2")["processed"] == 0, "decided: not sent again"
    assert set(received_counts(server).values()) == {1}

    # A 422 (not every event processed) that does not say which: failed, not sent again either.
    stale = won_deals(2, first=100, age=dt.timedelta(days=9))
    arrange_outbox(warehouse, won_deals(3, first=50) + stale)
    events_fault(server, fault)
    partial = send_conversions(run_id="manual__3", max_event_age_days=30)
    assert (partial["sent"], partial["failed"]) == (0, 5)
    later = ledger(warehouse)
    for n in (50, 51, 52, 100, 101):
        entry = later[f"won_hubspot:{n}"]
        assert (entry["state"], entry["reason"], entry["http_status"]) == ("failed", "unreadable_answer", 422)
        assert "whether this event was processed is unknown" in entry["error_message"]
    assert send_conversions(run_id="manual__4", max_event_age_days=30)["processed"] == 0
    assert set(received_counts(server).values()) == {1}


def test_a_systemic_400_leaves_every_event_pending_and_stops_then_a_later_run_sends_each_once(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox()
    rows = won_deals(40)
    arrange_outbox(warehouse, rows)
    events_fault(server, "refuse_all", answers=0)  # the API changed: every request refused, until fixed

    with pytest.raises(AirflowFailException, match="each refused with a 400 on their own"):
        send_conversions()

    entries = ledger(warehouse)
    assert {(e["state"], e["reason"], e["http_status"]) for e in entries.values()} == {("pending", "bad_request", 400)}
    assert len(entries) == 40, "no event is failed for good"
    assert "is not supported" in next(iter(entries.values()))["error_message"]
    assert received(server) == []

    events_fault(server, None)  # fixed
    summary = send_conversions(run_id="manual__2")
    assert (summary["processed"], summary["sent"], summary["failed"], summary["possible_repeats"]) == (40, 40, 0, 0)
    assert set(received_counts(server).values()) == {1} and len(received(server)) == 40


def test_a_revoked_token_fails_fast_leaves_the_events_pending_and_a_later_run_sends_them_once(
    capi_sandbox, warehouse, send_conversions, monkeypatch
) -> None:
    server = capi_sandbox()
    rows = won_deals(20)
    arrange_outbox(warehouse, rows)
    good = os.environ["AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT"]
    monkeypatch.setenv(
        "AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT",
        json.dumps({**json.loads(good), "password": "pina_REVOKED_SECRET_42"}),
    )

    started = time.monotonic()
    with pytest.raises(PinterestTokenExpired, match="expired or revoked"):
        send_conversions()

    assert time.monotonic() - started < 5
    assert {(e["state"], e["http_status"]) for e in ledger(warehouse).values()} == {("pending", 401)}
    assert "REVOKED_SECRET" not in json.dumps([e["error_message"] for e in ledger(warehouse).values()])
    monkeypatch.setenv("AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT", good)
    summary = send_conversions(run_id="manual__2")
    assert (summary["sent"], summary["possible_repeats"]) == (20, 0)
    assert set(received_counts(server).values()) == {1}


def test_a_4xx_for_the_whole_request_fails_fast(capi_sandbox, warehouse, send_conversions, monkeypatch) -> None:
    capi_sandbox()
    arrange_outbox(warehouse, won_deals(5))
    connection = json.loads(os.environ["AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT"])
    connection["extra"]["ad_account_id"] = "111111111111"  # not an account the token may use: 403
    monkeypatch.setenv("AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT", json.dumps(connection))

    with pytest.raises(AirflowFailException, match="403"):
        send_conversions()

    assert {(e["state"], e["http_status"], e["attempts"]) for e in ledger(warehouse).values()} == {("pending", 403, 1)}


def test_transient_failures_outlasting_the_retries_fail_the_task_and_the_next_run_sends_once(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox()
    rows = won_deals(30)
    arrange_outbox(warehouse, rows)
    script_faults(server, ["server_error"] * 6)

    with pytest.raises(TransientAPIError, match="500"):
        send_conversions()

    assert {(e["state"], e["http_status"], e["attempts"]) for e in ledger(warehouse).values()} == {("pending", 500, 6)}
    summary = send_conversions(run_id="manual__2")  # Airflow's retry
    assert (summary["sent"], summary["possible_repeats"]) == (30, 0)
    assert set(received_counts(server).values()) == {1}
    assert {e["attempts"] for e in ledger(warehouse).values()} == {7}


def test_a_worker_killed_between_request_and_ledger_write_is_resent_under_the_same_ids_and_flagged(
    capi_sandbox, warehouse, send_conversions
) -> None:
    server = capi_sandbox(faults=FaultRates(hang_seconds=120))
    rows = won_deals(1500)
    arrange_outbox(warehouse, rows)
    script_faults(server, ["lost_answer"])  # Pinterest processes the first request; its answer never comes
    script = (
        "from pin2deal.operators.pinterest_capi import PinterestConversionsOperator as Op\n"
        "Op(task_id='send_conversions', request_timeout=300).execute({'run_id': 'killed'})\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}
    worker = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while len(received(server)) < 1000:
            assert worker.poll() is None, worker.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the worker never sent its first request"
            time.sleep(0.05)
        time.sleep(0.2)
        assert worker.poll() is None, "the worker must be waiting for the lost answer"
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    first_batch = {row["event_id"] for row in rows[:1000]}
    entries = ledger(warehouse)
    assert {event_id for event_id, e in entries.items() if e["state"] == "in_flight"} == first_batch
    assert len(entries) == 1000 and {e["run_id"] for e in entries.values()} == {"killed"}

    summary = send_conversions(run_id="retry")

    assert (summary["processed"], summary["sent"], summary["possible_repeats"]) == (1500, 1500, 1000)
    counts = received_counts(server)
    assert {event_id for event_id, count in counts.items() if count == 2} == first_batch
    assert set(counts) == {row["event_id"] for row in rows} and max(counts.values()) == 2
    entries = assert_every_deal_explained(warehouse, rows)
    assert {event_id for event_id, e in entries.items() if e["possible_repeat"]} == first_batch
    assert {e["attempts"] for event_id, e in entries.items() if event_id in first_batch} == {2}
    for event in received(server)[1000:2000]:  # the re-sent first batch: same event_id and order_id
        assert event["event_id"] in first_batch and event["deduplicated"]
        assert event["event"]["custom_data"]["order_id"] == event["event_id"].removeprefix("won_")
    assert_duplicates_flagged(server, warehouse)
    assert send_conversions(run_id="again")["processed"] == 0


def test_an_event_of_unknown_outcome_that_became_unsendable_says_pinterest_may_have_it(
    capi_sandbox, warehouse, send_conversions
) -> None:
    capi_sandbox()
    row = won_deals(1)[0]
    arrange_outbox(warehouse, [row])
    warehouse.execute(
        "INSERT INTO ops.capi_ledger (event_id, event_kind, stable_key, deal_id, state, attempts, request_id, run_id) "
        "VALUES (%s, 'checkout', %s, %s, 'in_flight', 1, gen_random_uuid(), 'killed')",
        (row["event_id"], row["stable_key"], row["deal_id"]),
    )
    assert send_conversions(dry_run=True)["skipped_by_reason"] == {"dry_run": 1}
    assert ledger(warehouse)[row["event_id"]]["state"] == "in_flight"  # a dry run resolves nothing

    arrange_outbox(warehouse, [outbox_row(1, row["won_at"], deal_consent=False)])
    send_conversions()

    entry = ledger(warehouse)[row["event_id"]]
    assert (entry["state"], entry["reason"]) == ("skipped", "consent_denied")
    assert "is unknown: Pinterest may have this event" in entry["error_message"]
