"""The briefing's Conversions API line counts the decisions made on its day (new events, and events whose state or
reason changed), however often the sender rewrote the ledger: through the real sender (PinterestConversionsOperator
against the sandbox) and the briefing's own read. Migration 060's backfill: tests/warehouse/test_migrations.py."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from pin2deal.briefing.pipeline import read_frames
from tests.capi.capi_worlds import arrange_outbox, contact, ledger, outbox_row
from tests.capi.conftest import capi_sandbox, send_conversions  # noqa: F401 (the CAPI tests' fixtures)

UTC = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def empty_ledger(warehouse: psycopg.Connection) -> None:
    warehouse.execute("TRUNCATE ops.capi_outbox, ops.capi_ledger")


def shift_ledger(conn: psycopg.Connection, days: int) -> None:
    """Every time of the ledger ``days`` earlier: what it recorded happened that long ago."""
    columns = [
        name
        for (name,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'ops' "
            "AND table_name = 'capi_ledger' AND data_type = 'timestamp with time zone'"
        )
    ]
    conn.execute(
        sql.SQL("UPDATE ops.capi_ledger SET {}").format(
            sql.SQL(", ").join(
                sql.SQL("{0} = {0} - make_interval(days => %(days)s)").format(sql.Identifier(c)) for c in columns
            )
        ),
        {"days": days},
    )


def conversions_on(conn: psycopg.Connection, day: dt.date, timezone: ZoneInfo = UTC) -> dict[str, int] | None:
    return read_frames(conn, day, timezone).conversions


def test_the_line_counts_the_decisions_of_its_day_however_often_the_sender_rewrote_the_ledger(
    capi_sandbox,  # noqa: F811
    warehouse,
    send_conversions,  # noqa: F811
) -> None:
    capi_sandbox()
    won = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    arrange_outbox(
        warehouse,
        [
            outbox_row(1, won),  # sent
            outbox_row(2, won, channel="other"),  # skipped channel_not_configured, decided again on every run
            outbox_row(3, won, contacts=[contact(3, email=None)]),  # skipped no_identifier; its email comes later
            outbox_row(4, won, contacts=[contact(4, email=None)]),  # skipped no_identifier, run after run
        ],
    )
    first = send_conversions()
    assert (first["sent"], first["skipped"]) == (1, 3)
    shift_ledger(warehouse, 3)  # that run was three days ago
    first_day = ledger(warehouse)["won_hubspot:1"]["sent_at"].astimezone(UTC).date()

    # Today: deal 3's contact has an email now, deal 5 was won; the sender decides only on what changed.
    arrange_outbox(warehouse, [outbox_row(3, won), outbox_row(5, won + dt.timedelta(hours=1))])
    second = send_conversions()
    assert (second["sent"], second["skipped"]) == (2, 0)
    # Whatever writes the ledger again without a new decision (an older sender re-deciding every open skip, a
    # repair by hand) moves no decision to today.
    warehouse.execute("UPDATE ops.capi_ledger SET state = state, reason = reason, updated_at = now()")
    entries = ledger(warehouse)
    today = entries["won_hubspot:5"]["sent_at"].astimezone(UTC).date()
    assert entries["won_hubspot:2"]["updated_at"].astimezone(UTC).date() == today  # rewritten today, unchanged

    assert conversions_on(warehouse, today) == {"sent": 2}  # deal 3 (skipped -> sent) and deal 5 (new)
    assert conversions_on(warehouse, first_day) == {"sent": 1, "skipped": 2}  # deal 3 moved to the day it changed
    assert conversions_on(warehouse, first_day + dt.timedelta(days=1)) == {}

    # A changed reason is a new decision: deal 4 suppressed for consent from now on.
    arrange_outbox(warehouse, [outbox_row(4, won, contacts=[contact(4, email=None)], deal_consent=False)])
    send_conversions()
    assert ledger(warehouse)["won_hubspot:4"]["reason"] == "consent_denied"
    assert conversions_on(warehouse, today) == {"sent": 2, "skipped": 1}
    assert conversions_on(warehouse, first_day) == {"sent": 1, "skipped": 1}


def test_the_day_is_the_account_day_of_the_decision(warehouse) -> None:
    """Decisions are counted by the account day (its time zone) they were made on, midnight to midnight."""
    day = dt.date(2025, 6, 30)
    rows = [
        ("won_a", "sent", "2025-06-30 03:59+00"),  # 29 Jun 23:59 in New York
        ("won_b", "sent", "2025-06-30 04:00+00"),  # 30 Jun 00:00 in New York
        ("won_c", "failed", "2025-06-30 15:00+00"),
        ("won_d", "skipped", "2025-07-01 03:59+00"),  # 30 Jun 23:59
        ("won_e", "pending", "2025-07-01 04:00+00"),  # 1 Jul
        ("won_f", "skipped", None),  # decided before the ledger recorded decision times: no day
    ]
    for event_id, state, decided in rows:
        warehouse.execute(
            "INSERT INTO ops.capi_ledger (event_id, stable_key, deal_id, event_kind, state, decided_at, "
            "last_attempt_at, updated_at) "
            "VALUES (%s, %s, 1, 'checkout', %s, %s, '2025-06-30 18:00+00', '2025-06-30 18:00+00')",
            (event_id, event_id, state, decided),
        )
    assert conversions_on(warehouse, day, NY) == {"sent": 1, "failed": 1, "skipped": 1}
    assert conversions_on(warehouse, day, UTC) == {"sent": 2, "failed": 1}
