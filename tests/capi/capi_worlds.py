"""Outbox rows arranged by hand, the sandbox's view of what it received, and the spec check the CAPI tests share."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections import Counter
from typing import Any

import httpx
import psycopg
import pytest

ROW_COLUMNS = (
    "event_id", "event_kind", "event_at", "stable_key", "deal_id", "channel", "won_at", "amount", "amount_raw",
    "currency", "currency_raw", "epik", "ip_address", "user_agent", "deal_consent", "contacts", "inputs_hash",
)  # fmt: skip


def contact(number: int, **changes: Any) -> dict[str, Any]:
    return {
        "contact_id": 70_000 + number,
        "email": f"buyer{number}@example.com",
        "phone_e164": "+33612345678",
        "phone": "06 12 34 56 78",
        "country": "France",
        "first_name": "Jeanne",
        "last_name": "Martin",
        "consent": True,
        **changes,
    }


def outbox_row(number: int, won_at: dt.datetime | None, **changes: Any) -> dict[str, Any]:
    """A won Pinterest-paid deal's checkout (stable key ``hubspot:<number>``) with one contact; ``changes`` override
    (the event time is the won time unless ``event_at`` says otherwise)."""
    row = {
        "event_id": f"won_hubspot:{number}",
        "event_kind": "checkout",
        "stable_key": f"hubspot:{number}",
        "deal_id": number,
        "channel": "pinterest_paid",
        "won_at": won_at,
        "amount": "1200.50",
        "amount_raw": "1200.50",
        "currency": "EUR",
        "currency_raw": "EUR",
        "epik": f"dj0yJnU9{number}",
        "ip_address": None,
        "user_agent": None,
        "deal_consent": None,
        "contacts": [contact(number)],
        **changes,
    }
    row.setdefault("event_at", row["won_at"])
    inputs = json.dumps({key: value for key, value in row.items() if key != "deal_id"}, default=str)
    row["inputs_hash"] = hashlib.md5(inputs.encode()).hexdigest()
    return row


def arrange_outbox(conn: psycopg.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert or replace outbox rows (as fill_outbox.sql would leave them: undecided when new or changed)."""
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO ops.capi_outbox AS o ({', '.join(ROW_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(ROW_COLUMNS))}) ON CONFLICT (event_id) DO UPDATE SET "
            + ", ".join(f"{column} = EXCLUDED.{column}" for column in ROW_COLUMNS[1:])
            + ", undecided = o.undecided OR o.inputs_hash <> EXCLUDED.inputs_hash",
            [
                tuple(psycopg.types.json.Jsonb(row[c]) if c == "contacts" else row[c] for c in ROW_COLUMNS)
                for row in rows
            ],
        )


def received(server: Any) -> list[dict[str, Any]]:
    """Every event the sandbox accepted (real requests), in arrival order."""
    return httpx.get(f"{server.url}/_sandbox/events", timeout=30).json()["events"]


def received_counts(server: Any) -> Counter[str]:
    return Counter(event["event_id"] for event in received(server))


def events_fault(server: Any, kind: str | None, *, answers: int = 1, keep: float = 0.5) -> None:
    """Arm (or, with None, clear) a fault of the sandbox's events endpoint for the next ``answers`` requests."""
    httpx.post(
        f"{server.url}/_sandbox/pinterest/events-fault",
        json={"kind": kind, "answers": answers, "keep": keep},
        timeout=10,
    ).raise_for_status()


def script_faults(server: Any, faults: list[str | None], *, poison: list[str] = (), path: str | None = None) -> None:
    from tests.pinterest.pinterest_worlds import ACCOUNT_ID

    httpx.post(
        f"{server.url}/_sandbox/pinterest/faults",
        json={
            "path": path or f"/v5/ad_accounts/{ACCOUNT_ID}/events",
            "faults": faults,
            "poison_event_ids": list(poison),
        },
        timeout=10,
    ).raise_for_status()


def ledger(conn: psycopg.Connection, kind: str | None = None) -> dict[str, dict[str, Any]]:
    """The ledger's rows by event id (of one event kind when ``kind`` says which)."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute("SELECT * FROM ops.capi_ledger WHERE event_kind = coalesce(%s, event_kind)", (kind,))
        return {row["event_id"]: row for row in rows}


def official_spec_or_skip():
    """The official Pinterest description, or a skip with the reason (a failure in CI, where it must be present)."""
    from sandbox.pinterest.spec import SPEC_ENV, default_spec_path, load_spec

    spec = load_spec()
    if spec is None:
        reason = f"Pinterest's OpenAPI description is not at {default_spec_path()} (set {SPEC_ENV})"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return spec


def assert_events_conform(spec: Any, events: list[dict[str, Any]]) -> None:
    """Each event, sent as a request body of its own and in batches of 1,000, matches the events request schema."""
    operation = spec.operation("events/create")
    for start in range(0, len(events), 1000):
        operation.validate_body({"data": events[start : start + 1000]})
