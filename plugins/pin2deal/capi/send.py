"""Send the outbox to the Conversions API exactly once per lineage and event kind, recording every decision in the
ledger.

The protocol (docs/capi.md has the states and the crash window):

1. one run at a time (a PostgreSQL advisory lock); when the settings that decide events changed since the last
   run, every skipped or failed event is decided again (``record_settings.sql``);
2. the candidates are the undecided outbox rows only (``candidates.sql``: new or changed inputs, or still open), of
   the kinds the run sends, ordered by kind, read through a server-side cursor, one batch at a time, so an hour with
   nothing changed reads nothing and memory holds one batch whatever the outbox size;
3. per row, ``payload.decide``: an event, or a skip with its reason (recorded at once, final for these inputs);
4. per batch of up to 1,000 events of one kind: the **intent** (state ``in_flight`` under a new request id, with
   each event's payload hash and match keys, the names of its ``user_data`` fields) is committed, then the request
   is sent (transient failures retried inside by the hook), then the **outcome** of every event (``sent``/``failed``
   from ``events[].status`` of a 200 or a 422) is committed. A worker killed between the two commits leaves
   ``in_flight`` rows: the next run sends them again, same ``event_id`` and ``order_id``, and flags them
   ``possible_repeat``. An answer that does not list every event's verdict is decided on its status: a 200
   (Pinterest processed every event) ``sent``, a 422 (some were not, which is unknown) ``failed``, both with reason
   ``unreadable_answer``;
5. a whole-request 400 splits the batch in halves until the refused events are isolated, so one bad event never
   blocks the others; an event refused alone stays ``pending`` until the run ends, then is ``failed``/
   ``bad_request``, unless more than ``MAX_ISOLATED_BAD_REQUESTS`` were refused alone: then the API refuses the
   request itself (it changed), the run stops and they all stay ``pending`` for a later run. Any other 4xx for the
   whole request, a revoked token, or transient failures outlasting the retries stop the task, with the events
   ``pending`` (answered, nothing processed) or, when an attempt got no answer at all, still ``in_flight``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from pin2deal.capi.payload import (
    DRY_RUN,
    EVENT_KINDS,
    OPEN_SKIPS,
    TEST_MODE,
    CapiSettings,
    Decision,
    decide,
    encode_event,
)
from pin2deal.hooks.pinterest import (
    EventsAnswer,
    PinterestAPIError,
    PinterestConversionsHook,
    PinterestTokenExpired,
)
from pin2deal.paths import SQL_DIR
from pin2deal.retrying import RetryAfterTooLong, TransientAPIError

CAPI_SQL = SQL_DIR / "capi"
# pg_advisory_lock key of the sender ("capisend" in ASCII): two runs never send the same candidates, and the outbox
# fill waits for a sending run (both write the outbox's rows: concurrently, they could deadlock).
SENDER_LOCK_KEY = 0x6361706973656E64
# More single events refused with a 400 than this in one run: the request itself is wrong, not a few events.
MAX_ISOLATED_BAD_REQUESTS = 10
UNREADABLE_ANSWER = "unreadable_answer"


@functools.cache
def capi_sql(name: str) -> str:
    return (CAPI_SQL / f"{name}.sql").read_text(encoding="utf-8")


def sql_statements(text: str) -> list[str]:
    """The statements of a SQL file, each ending with ``;`` at the end of a line."""
    return [statement for statement in re.split(r";[ \t]*$", text, flags=re.M) if statement.strip()]


@dataclass(frozen=True)
class Selection:
    """Which not-yet-final outbox rows a run considers (event kinds, event time range); open (in_flight/pending)
    rows always."""

    kinds: tuple[str, ...] = EVENT_KINDS
    after: dt.datetime | None = None
    before: dt.datetime | None = None


@dataclass
class Summary:
    """The run's return value (XCom, shown in the UI): counts only."""

    processed: int = 0  # outbox rows decided
    sent: int = 0
    failed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    possible_repeats: int = 0  # sent again after an unknown outcome
    data_warnings: int = 0  # events built without something the deal has (an unusable amount)
    requests: int = 0  # HTTP attempts, retries included
    bad_request_splits: int = 0
    reopened: int = 0  # decided events decided again because the settings changed
    dry_run: bool = False
    test_mode: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "processed": self.processed,
            "sent": self.sent,
            "failed": self.failed,
            "skipped": sum(self.skipped.values()),
            "skipped_by_reason": dict(sorted(self.skipped.items())),
            "possible_repeats": self.possible_repeats,
            "data_warnings": self.data_warnings,
            "requests": self.requests,
            "bad_request_splits": self.bad_request_splits,
            "reopened": self.reopened,
            "dry_run": self.dry_run,
            "test_mode": self.test_mode,
        }


class StageEventsRefused(AirflowFailException):
    """The stage mapping names a stage the portal's pipelines do not have, or a closed-won one: fix the mapping."""


def check_stage_events(conn: Connection, stage_events: Mapping[str, str]) -> None:
    """Refuse, naming them, the mapped stages that are no live stage of the portal's deal pipelines (a typo, a stage
    deleted in HubSpot: its events would silently never come) or are closed-won (won is the checkout), and names no
    stage can send. Before any pipeline was read (a fresh install), no deal can be in a stage yet: no stage check."""
    if not stage_events:
        return
    CapiSettings(stage_events=stage_events)  # an event name no stage can send: the operator's ValueError, naming it
    with conn.cursor() as cur:
        rows = cur.execute(capi_sql("mapped_stages"), {"stages": sorted(stage_events)}).fetchall()
    known = rows[0][3]  # every row carries it
    problems = []
    for stage, pipelines, closed_won, _ in rows:
        if not pipelines:
            problems.append(f"stage {stage!r} is not a stage of the portal's deal pipelines")
        elif closed_won:
            problems.append(f"stage {stage!r} is closed-won (pipeline {', '.join(pipelines)}): won is the checkout")
    if problems and known is not None:
        raise StageEventsRefused(
            f"stage_events: {'; '.join(problems)}. Fix the mapping (the portal's stage ids: {known}); nothing is "
            "filled or sent until then"
        )


def fill_outbox(conn: Connection, stage_events: Mapping[str, str] | None = None) -> dict[str, int]:
    """Bring ``ops.capi_outbox`` up to date with the deals that changed since the last fill (``fill_outbox.sql``),
    with a stage event row per lineage and stage of ``stage_events`` it entered; returns how many deals changed and
    how many outbox rows await a decision.

    One REPEATABLE READ transaction: all its statements read the same published marts, even when a reconcile
    publishes meanwhile (read committed, one statement could see the new marts and the next the old ones). The
    sender's lock is taken first, outside it (``conn`` in autocommit mode), so the transaction's snapshot is taken
    once the lock is held: taken while waiting, it would miss what the run it waited for wrote."""
    stage_events = stage_events or {}
    check_stage_events(conn, stage_events)
    parameters = {"stages": sorted(stage_events)}
    conn.execute("SELECT pg_advisory_lock(%s)", (SENDER_LOCK_KEY,))
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            for statement in sql_statements(capi_sql("fill_outbox")):
                cur.execute(statement, parameters)
            deals_changed, undecided = cur.fetchone()
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (SENDER_LOCK_KEY,))
    return {"deals_changed": deals_changed, "undecided": undecided}


@dataclass
class Prepared:
    """One outbox row and its built event, on its way to a request."""

    row: Mapping[str, Any]
    encoded: str  # the event's canonical JSON, exactly the bytes sent
    payload_hash: str
    data_warning: str | None = None  # what the event leaves out and why
    match_keys: tuple[str, ...] = ()  # the names of its user_data fields (click_id, em, ph, ...), kept in the ledger


class ConversionsSender:
    """One run of the sender: ``run()`` decides and delivers every candidate and returns the summary."""

    def __init__(
        self,
        reader: Connection,
        writer: Connection,
        hook: PinterestConversionsHook,
        settings: CapiSettings,
        *,
        run_id: str,
        selection: Selection = Selection(),
        dry_run: bool = False,
        test_mode: bool = False,
    ) -> None:
        self.reader, self.writer, self.hook, self.settings = reader, writer, hook, settings
        self.run_id, self.selection = run_id, selection
        self.summary = Summary(dry_run=dry_run, test_mode=test_mode)
        # Events refused with a 400 on their own, pending until the run knows whether the API refuses everything.
        self.refused_alone: list[tuple[list[Prepared], uuid.UUID, str]] = []
        self.stopping = False  # the API refuses the request itself: record what is on the wire, send nothing more
        self.requests: ThreadPoolExecutor | None = None
        self.on_the_wire: tuple[list[Prepared], uuid.UUID, Future[EventsAnswer]] | None = None
        self.log = hook.log

    # -- reading and deciding ----------------------------------------------------------------------------------
    def candidates(self) -> Iterator[list[dict[str, Any]]]:
        """Chunks of candidate rows from a server-side cursor (one snapshot, one batch in memory)."""
        with self.reader.transaction(), self.reader.cursor(name="capi_candidates", row_factory=dict_row) as cur:
            cur.itersize = self.settings.batch_size
            cur.execute(
                capi_sql("candidates"),
                {"kinds": list(self.selection.kinds), "after": self.selection.after, "before": self.selection.before},
            )
            while rows := cur.fetchmany(self.settings.batch_size):
                yield rows

    def run(self) -> Summary:
        self.writer.execute("SELECT pg_advisory_lock(%s)", (SENDER_LOCK_KEY,))
        try:
            self.record_settings()
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="capi-request") as self.requests:
                try:
                    self.decide_and_deliver()
                    while self.on_the_wire is not None:
                        self.settle()
                except RequestRefused:
                    self.stopping = True
                    while self.on_the_wire is not None:
                        self.settle()
                    raise
            self.fail_refused_alone()
        finally:
            self.writer.execute("SELECT pg_advisory_unlock(%s)", (SENDER_LOCK_KEY,))
        return self.summary

    def decide_and_deliver(self) -> None:
        """Decide every candidate; deliver events batch by batch, record skips chunk by chunk."""
        now: dt.datetime | None = None
        batch: list[Prepared] = []
        for rows in self.candidates():
            if now is None:  # only asked when there is something to decide
                now = self.hook.server_now()
                self.log.info("Conversions API clock (the API's Date): %s", now.isoformat())
            skips: list[tuple[Mapping[str, Any], Decision, str | None]] = []
            for row in rows:
                self.summary.processed += 1
                decision = decide(row, self.settings, now)
                if decision.event is None:
                    skips.append((row, decision, None))
                    continue
                prepared = Prepared(
                    row, *encode_event(decision.event), decision.warning, tuple(sorted(decision.event["user_data"]))
                )
                if self.summary.dry_run:
                    dry = Decision(None, DRY_RUN, "dry run: built and validated, not sent", decision.warning)
                    skips.append((row, dry, prepared.payload_hash))
                    continue
                if batch and batch[0].row["event_kind"] != row["event_kind"]:
                    self.deliver(batch)
                    batch = []
                batch.append(prepared)
                if len(batch) == self.settings.batch_size:
                    self.deliver(batch)
                    batch = []
            self.record_skips(skips)
        if batch:
            self.deliver(batch)

    # -- ledger writes -------------------------------------------------------------------------------------------
    def record_settings(self) -> None:
        """Remember the settings decisions are made under; when they changed, re-open every skipped or failed event."""
        with self.writer.transaction(), self.writer.cursor() as cur:
            cur.execute(capi_sql("record_settings"), {"settings": Jsonb(self.settings.decision_inputs())})
            self.summary.reopened = cur.fetchone()[0]
        if self.summary.reopened:
            self.log.info("The settings changed: %d decided events are decided again", self.summary.reopened)

    def record_skips(
        self,
        skips: Sequence[tuple[Mapping[str, Any], Decision, str | None]],
        verdicts: Sequence[Mapping[str, Any]] | None = None,
        http_status: int | None = None,
    ) -> None:
        if not skips:
            return
        verdicts = verdicts or [{} for _ in skips]
        with self.writer.transaction(), self.writer.cursor() as cur:
            cur.execute(
                capi_sql("record_decisions"),
                {
                    "run_id": self.run_id,
                    "open_reasons": list(OPEN_SKIPS),
                    "event_ids": [row["event_id"] for row, _, _ in skips],
                    "event_kinds": [row["event_kind"] for row, _, _ in skips],
                    "stable_keys": [row["stable_key"] for row, _, _ in skips],
                    "deal_ids": [row["deal_id"] for row, _, _ in skips],
                    "reasons": [decision.reason for _, decision, _ in skips],
                    "inputs_hashes": [row["inputs_hash"] for row, _, _ in skips],
                    "payload_hashes": [digest for _, _, digest in skips],
                    "http_statuses": [http_status if verdict else None for verdict in verdicts],
                    "event_statuses": [verdict.get("status") for verdict in verdicts],
                    "error_messages": [
                        verdict.get("error_message") or (None if verdict.get("status") else decision.detail)
                        for (_, decision, _), verdict in zip(skips, verdicts, strict=True)
                    ],
                    "warning_messages": [verdict.get("warning_message") for verdict in verdicts],
                    "data_warnings": [decision.warning for _, decision, _ in skips],
                },
            )
        self.summary.skipped.update(decision.reason for _, decision, _ in skips)

    def record_intent(self, batch: Sequence[Prepared], request_id: uuid.UUID) -> None:
        with self.writer.transaction(), self.writer.cursor() as cur:
            cur.execute(
                capi_sql("record_intent"),
                {
                    "request_id": request_id,
                    "run_id": self.run_id,
                    "event_ids": [p.row["event_id"] for p in batch],
                    "payload_hashes": [p.payload_hash for p in batch],
                    "data_warnings": [p.data_warning for p in batch],
                    "match_keys": [",".join(p.match_keys) for p in batch],
                },
            )

    def record_outcome(
        self,
        batch: Sequence[Prepared],
        request_id: uuid.UUID,
        outcomes: Sequence[tuple[str, str | None, int | None, str | None, str | None, str | None]],
        *,
        extra_attempts: int,
        possible_repeat: bool,
    ) -> int:
        """``outcomes``: (state, reason, http_status, event_status, error_message, warning_message) per event.

        Returns how many of the events are now sent and flagged ``possible_repeat``."""
        common = {"request_id": request_id, "extra_attempts": extra_attempts, "possible_repeat": possible_repeat}
        with self.writer.transaction(), self.writer.cursor() as cur:
            if len(set(outcomes)) == 1:
                state, reason, status, event_status, error, warning = outcomes[0]
                cur.execute(
                    capi_sql("record_outcome_all"),
                    common
                    | {"state": state, "reason": reason, "http_status": status, "event_status": event_status,
                       "error_message": error, "warning_message": warning},
                )  # fmt: skip
            else:
                states, reasons, statuses, event_statuses, errors, warnings = (
                    list(column) for column in zip(*outcomes, strict=True)
                )
                cur.execute(
                    capi_sql("record_outcome"),
                    common
                    | {
                        "event_ids": [p.row["event_id"] for p in batch],
                        "states": states,
                        "reasons": reasons,
                        "http_statuses": statuses,
                        "event_statuses": event_statuses,
                        "error_messages": errors,
                        "warning_messages": warnings,
                    },
                )
            return sum(1 for (repeat,) in cur.fetchall() if repeat)

    # -- delivery ------------------------------------------------------------------------------------------------
    def deliver(self, batch: list[Prepared]) -> None:
        """Start one batch by the protocol of the module doc: settle the previous request, commit this one's intent,
        send it on the request thread and return, so the next batch is built while this one is on the wire.
        (Test mode: send with ``?test=true`` and record the verdicts as skips, synchronously.)"""
        while self.on_the_wire is not None:  # settling may start another request (the halves of a split batch)
            self.settle()
        events = [p.encoded for p in batch]
        if self.summary.test_mode:
            answer = self.hook.send_events(events, test=True)
            self.summary.requests += answer.attempts
            verdicts = answer.verdicts(len(batch)) or [
                {"error_message": f"the test answer ({answer.status}) had {answer.defect(len(batch))}"}
            ] * len(batch)
            skips = [(p.row, Decision(None, TEST_MODE, None, p.data_warning), p.payload_hash) for p in batch]
            self.record_skips(skips, verdicts, http_status=answer.status)
            return
        request_id = uuid.uuid4()
        self.record_intent(batch, request_id)
        self.summary.data_warnings += sum(p.data_warning is not None for p in batch)
        self.on_the_wire = (batch, request_id, self.requests.submit(self.hook.send_events, events))

    def settle(self) -> None:
        """Wait for the request on the wire (if any) and record its outcome, or stop the task (see module doc)."""
        if self.on_the_wire is None:
            return
        batch, request_id, answer_future = self.on_the_wire
        self.on_the_wire = None
        try:
            answer = answer_future.result()
        except PinterestAPIError as error:
            self.summary.requests += self.hook.last_send.attempts
            self.answered_with_error(batch, request_id, error)
            return
        except PinterestTokenExpired as error:
            self.summary.requests += self.hook.last_send.attempts
            self.unsent(batch, request_id, "pending", 401, "token", str(error))
            raise
        except (TransientAPIError, RetryAfterTooLong) as error:
            trace = self.hook.last_send
            self.summary.requests += trace.attempts
            # Every attempt answered (429/5xx): nothing was processed. One without an answer: outcome unknown.
            state = "pending" if trace.unanswered_attempts == 0 else "in_flight"
            self.unsent(batch, request_id, state, getattr(error, "status", None), "transient", str(error))
            raise
        self.summary.requests += answer.attempts
        verdicts = answer.verdicts(len(batch))
        outcomes = (
            [self.outcome(answer.status, verdict) for verdict in verdicts]
            if verdicts is not None
            else [self.unreadable(answer, len(batch))] * len(batch)
        )
        for state, *_ in outcomes:
            self.summary.sent += state == "sent"
            self.summary.failed += state == "failed"
        self.summary.possible_repeats += self.record_outcome(
            batch,
            request_id,
            outcomes,
            extra_attempts=answer.attempts - 1,
            possible_repeat=answer.unanswered_attempts > 0,
        )

    @staticmethod
    def outcome(status: int, verdict: Mapping[str, Any]) -> tuple[str, str | None, int, Any, Any, Any]:
        """The ledger outcome of one event from its ``events[]`` verdict."""
        processed = verdict.get("status") == "processed"
        return (
            "sent" if processed else "failed",
            None if processed else "rejected",
            status,
            verdict.get("status"),
            verdict.get("error_message"),
            verdict.get("warning_message"),
        )

    def unreadable(self, answer: EventsAnswer, count: int) -> tuple[str, str, int, None, str | None, str | None]:
        """The outcome of every event of an answer without one verdict per event: its status decides. A 200 means
        Pinterest processed every event (it answers 422 otherwise): sent. A 422 means some were not, and which is
        unknown: failed, not sent again (a re-send could repeat the processed ones)."""
        defect = answer.defect(count)
        self.log.warning("Pinterest answered %d to %d events with %s", answer.status, count, defect)
        if answer.status == 200:
            note = f"Pinterest answered 200 with {defect}: recorded sent on the status (200: every event processed)"
            return "sent", UNREADABLE_ANSWER, 200, None, None, note
        error = (
            f"Pinterest answered {answer.status} (not every event processed) with {defect}: whether this event was "
            "processed is unknown; not sent again, as a re-send could repeat it (check it in Ads Manager)"
        )
        return "failed", UNREADABLE_ANSWER, answer.status, None, error, None

    def unsent(
        self,
        batch: Sequence[Prepared],
        request_id: uuid.UUID,
        state: str,
        status: int | None,
        reason: str,
        message: str,
    ) -> None:
        trace = self.hook.last_send
        outcome = (state, reason, status, None, message[:2000], None)
        self.record_outcome(
            batch,
            request_id,
            [outcome] * len(batch),
            extra_attempts=max(trace.attempts - 1, 0),
            possible_repeat=trace.unanswered_attempts > 0,
        )

    def answered_with_error(self, batch: list[Prepared], request_id: uuid.UUID, error: PinterestAPIError) -> None:
        """A 4xx for the whole request: split a 400 to isolate its events; anything else fails the task."""
        if error.status != 400:
            self.unsent(batch, request_id, "pending", error.status, "request_refused", str(error))
            raise RequestRefused(
                f"{error}. The whole request was refused ({len(batch)} events left pending); retrying the same "
                "request cannot succeed: check the connection's ad account and token"
            ) from error
        self.unsent(batch, request_id, "pending", 400, "bad_request", str(error))
        if self.stopping:
            return
        if len(batch) == 1:
            self.refused_alone.append((batch, request_id, str(error)))
            self.log.warning("Event %s refused on its own: %s", batch[0].row["event_id"], error)
            if len(self.refused_alone) > MAX_ISOLATED_BAD_REQUESTS:
                raise RequestRefused(
                    f"{len(self.refused_alone)} events were each refused with a 400 on their own: the API refuses "
                    f"the request itself, not a few events (it may have changed): {error}. Nothing more is sent; "
                    "these events and the batches they came in are left pending, and the next run sends them again"
                ) from error
            return
        self.summary.bad_request_splits += 1
        self.log.warning("A batch of %d events was refused with a 400 (%s): splitting it", len(batch), error)
        middle = len(batch) // 2
        self.deliver(batch[:middle])
        self.deliver(batch[middle:])

    def fail_refused_alone(self) -> None:
        """The run ended with few events refused alone: each is failed/bad_request, final until its deal changes."""
        for batch, request_id, message in self.refused_alone:
            self.record_outcome(
                batch, request_id, [("failed", "bad_request", 400, None, message[:2000], None)],
                extra_attempts=0, possible_repeat=False,
            )  # fmt: skip
            self.summary.failed += 1
        self.refused_alone = []


class RequestRefused(AirflowFailException):
    """The API refuses the request itself (a 4xx for every request, or for too many events alone): stop the run."""
