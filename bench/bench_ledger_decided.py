"""The cost of dating Conversions API decisions (migration 060): the trigger that sets ``ops.capi_ledger.decided_at``
when a row's state or reason changes, on the sender's own outcome statement (include/sql/capi/
record_outcome_all.sql) over 100,000 in-flight events (``--events``), with the trigger on and off, alternately
(``--rounds``), in a fresh database. EXPLAIN ANALYZE reports the trigger's own time; the same statement again over
the now sent rows (a rewrite that changes nothing) does not call it (the trigger's WHEN clause).

``python -m bench ledger [--events=100000] [--rounds=3]``
"""

from __future__ import annotations

import argparse
import os
import re
import uuid

import psycopg

from bench.bench_pinterest_spend import fresh_database
from pin2deal.paths import SQL_DIR

OUTCOME = re.sub(r"--[^\n]*\n", "", (SQL_DIR / "capi" / "record_outcome_all.sql").read_text(encoding="utf-8"))
SENT = {"state": "sent", "reason": None, "http_status": 200, "event_status": "processed", "error_message": None,
        "warning_message": None, "extra_attempts": 0, "possible_repeat": False}  # fmt: skip


def timed(conn: psycopg.Connection, request_id: uuid.UUID) -> tuple[float, float | None]:
    """(statement ms, trigger ms or None) of the outcome statement for one request's events."""
    plan = "\n".join(row[0] for row in conn.execute("EXPLAIN (ANALYZE) " + OUTCOME, {**SENT, "request_id": request_id}))
    trigger = re.search(r"Trigger capi_ledger_decided: time=([\d.]+)", plan)
    return float(re.search(r"Execution Time: ([\d.]+)", plan)[1]), float(trigger[1]) if trigger else None


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench ledger")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    url = fresh_database(os.environ["PIN2DEAL_WAREHOUSE_URL"])
    with psycopg.connect(url, autocommit=True) as conn:
        for round_ in range(1, args.rounds + 1):
            for enabled in (True, False):
                request_id = uuid.uuid4()
                conn.execute("TRUNCATE ops.capi_ledger")
                conn.execute(
                    "INSERT INTO ops.capi_ledger (event_id, stable_key, deal_id, event_kind, state, attempts, "
                    "request_id, last_attempt_at) "
                    "SELECT 'won_hubspot:' || n, 'hubspot:' || n, n, 'checkout', 'in_flight', 1, %s, now() "
                    "FROM generate_series(1, %s) AS n",
                    (request_id, args.events),
                )
                conn.execute("VACUUM ANALYZE ops.capi_ledger")
                conn.execute(f"ALTER TABLE ops.capi_ledger {'ENABLE' if enabled else 'DISABLE'} TRIGGER "
                             "capi_ledger_decided")  # fmt: skip
                changed, trigger = timed(conn, request_id)
                unchanged, _ = timed(conn, request_id)
                own = f", trigger {trigger:,.0f} ms = {trigger * 1000 / args.events:.1f} us/event" if trigger else ""
                print(
                    f"round {round_}, trigger {'on ' if enabled else 'off'}: in_flight -> sent {changed:,.0f} ms{own}; "
                    f"sent -> sent (unchanged) {unchanged:,.0f} ms; load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        conn.execute("ALTER TABLE ops.capi_ledger ENABLE TRIGGER capi_ledger_decided")
