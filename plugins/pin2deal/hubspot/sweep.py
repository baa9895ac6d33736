"""The HubSpot sweep: what the modified-date search can never show.

1. **Deletions and archives**: every deal id HubSpot lists (the list endpoint, ids only, 100 a call; active, then
   archived) against ``raw.hubspot_deals``: a deal HubSpot no longer has gets ``deleted_at`` (rows are never
   deleted), one that came back has it cleared, archive flags follow HubSpot. Refused, loudly, when the listing
   would mark more than ``max_deleted_share`` of the live deals deleted (a truncated or empty answer must not
   erase the CRM).
2. **Drift**: a live deal that raw does not have (lost before the high-water mark existed, say) is read by id and
   loaded like any other batch (associations, contacts, keys).
3. **Contacts**: contacts whose own ``lastmodifieddate`` moved since the last sweep (contact search,
   keyset-paged like the deals) are re-read; only contacts raw already holds (contacts of loaded deals) are
   updated, with their issues. A contact edit never moves its deal's modified date, so nothing else sees it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from psycopg import ClientCursor, Connection

from pin2deal.hooks.hubspot_api import MAX_LIST_PAGE, HubSpotHook
from pin2deal.hooks.warehouse import copy_upsert, replace_record_issues
from pin2deal.hubspot.extract import (
    CHANGED,
    CONTACT_ISSUES,
    BatchEnricher,
    DealBatch,
    DealBatchLoader,
    advance_mark,
    initial_search_position,
    modified_deal_batches,
    read_mark,
    read_watermark,
    save_watermark,
)
from pin2deal.hubspot.records import CONTACT_COLUMNS, DealTyping, contact_rows
from pin2deal.paths import SQL_DIR

log = logging.getLogger(__name__)

CONTACTS_SOURCE = "hubspot.contacts"  # ops.watermarks source of the contact refresh
SWEEP_DEALS_SQL = SQL_DIR / "hubspot" / "sweep_deals.sql"
REKEY_SQL = SQL_DIR / "hubspot" / "rekey_after_sweep.sql"
GONE_SQL = SQL_DIR / "hubspot" / "deals_gone_without_successor.sql"


class ReconciliationRefused(AirflowFailException):
    """The listing looks untrustworthy (empty, or far smaller than raw): nothing was marked. Not retried: the
    same listing gives the same answer; a person decides (docs/operations.md)."""


@dataclass
class ReconcileCounts:
    listed: int = 0
    listed_archived: int = 0
    deleted: int = 0
    reidentified: int = 0
    restored: int = 0
    archive_changed: int = 0
    rekeyed: int = 0
    missing_loaded: int = 0
    contacts_read: int = 0
    contacts_refreshed: int = 0
    contact_issues: int = 0
    api: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def listed_deal_ids(hook: HubSpotHook, *, archived: bool) -> list[tuple[int, bool, dt.datetime | None]]:
    """(id, archived, archived_at) of every deal HubSpot lists, ids only (one call per 100 deals)."""
    found, after = [], None
    while True:
        page = hook.list_deals(["hs_object_id"], archived=archived, after=after, limit=MAX_LIST_PAGE)
        found.extend((deal.id, deal.archived, deal.archived_at) for deal in page.objects)
        after = page.after
        if after is None:
            return found


def mark_deleted_and_archived(
    conn: Connection,
    listed: list[tuple[int, bool, dt.datetime | None]],
    *,
    started: dt.datetime,
    run_id: str,
    max_deleted_share: float,
) -> dict[str, int]:
    """Apply the listing to raw (``sweep_deals.sql``) in one transaction; refuse an untrustworthy one."""
    with conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE listed_deals (deal_id bigint PRIMARY KEY, archived boolean NOT NULL, "
            "archived_at timestamptz) ON COMMIT DROP"
        )
        with conn.cursor() as cur, cur.copy("COPY listed_deals (deal_id, archived, archived_at) FROM STDIN") as copy:
            for row in dict((deal_id, (deal_id, archived, at)) for deal_id, archived, at in listed).values():
                copy.write_row(row)
        # The deals the listing would mark deleted, less those a listed deal succeeds (re-identified).
        with ClientCursor(conn) as cur:
            cur.execute(GONE_SQL.read_text(encoding="utf-8"), {"started": started})
            live, reidentified, vanished = cur.fetchone()
        # A re-identified deal and its successor are one lineage: the share is of lineages, not of rows.
        lineages = live - reidentified
        if vanished and vanished > max_deleted_share * lineages:
            raise ReconciliationRefused(
                f"HubSpot lists {len(listed)} deals: {vanished} of the {lineages} deals in raw.hubspot_deals would be "
                f"marked deleted without a successor ({reidentified} more were re-identified: a listed deal holds "
                f"their lineage), more than max_deleted_share={max_deleted_share:.0%}. Nothing was marked. If "
                "HubSpot really lost them (a bulk delete), trigger hubspot_sweep with a higher max_deleted_share."
            )
        with ClientCursor(conn) as cur:
            cur.execute(SWEEP_DEALS_SQL.read_text(encoding="utf-8"), {"started": started, "run_id": run_id})
            changed = cur.fetchall()
        rekeyed = conn.execute(REKEY_SQL.read_text(encoding="utf-8"), {"deal_ids": None}).fetchall()
    return {
        "deleted": sum(1 for row in changed if row[1]),
        "reidentified": reidentified,  # of the deleted: a listed deal holds their lineage
        "restored": sum(1 for row in changed if row[2]),
        "archive_changed": sum(1 for row in changed if row[3]),
        "rekeyed": len(rekeyed),
    }


def sweep_deleted_deals(
    conn: Connection, hook: HubSpotHook, *, run_id: str, max_deleted_share: float
) -> tuple[list[tuple[int, bool, dt.datetime | None]], dict[str, int]]:
    """List every deal id HubSpot has (active, then archived) and apply the verdict to raw (deletion marks,
    archive flags, re-keyed lineages). Returns the active listing and the verdict's counts."""
    started = dt.datetime.now(dt.UTC)
    active = listed_deal_ids(hook, archived=False)
    archived = listed_deal_ids(hook, archived=True)
    verdict = mark_deleted_and_archived(
        conn, active + archived, started=started, run_id=run_id, max_deleted_share=max_deleted_share
    )
    return active, {"listed": len(active), "listed_archived": len(archived), **verdict}


def load_missing_deals(
    conn: Connection, hook: HubSpotHook, typing: DealTyping, live_ids: list[int], *, run_id: str, batch_size: int
) -> int:
    """Read and load the live deals raw does not have (drift); returns how many were loaded."""
    known = {row[0] for row in conn.execute("SELECT deal_id FROM raw.hubspot_deals WHERE deal_id = ANY(%s)",
                                            (live_ids,))}
    missing = [deal_id for deal_id in live_ids if deal_id not in known]
    if not missing:
        return 0
    log.info("%s live HubSpot deals are not in raw.hubspot_deals: loading them", len(missing))
    enrich = BatchEnricher(hook, typing.contact_properties)
    load = DealBatchLoader(conn, hook, typing, scope=f"reconcile/{run_id}", run_id=run_id,
                           default_phone_region=hook.settings.default_phone_region)
    try:
        for start in range(0, len(missing), batch_size):
            deals = hook.read_deals(missing[start : start + batch_size], typing.deal_properties)
            load(enrich(DealBatch(deals, {"missing_from": start})))
    finally:
        enrich.close()
    return load.counts.deals


def refresh_contacts(
    conn: Connection,
    hook: HubSpotHook,
    typing: DealTyping,
    *,
    end: dt.datetime,
    overlap: dt.timedelta,
    run_id: str,
    counts: ReconcileCounts,
) -> dt.datetime | None:
    """Re-read the contacts modified since the last refresh (mark - overlap; the first time, since the oldest load
    of a contact in raw), up to ``end``; update those raw holds. Returns the new mark (None: no contacts yet)."""
    mark = read_mark(conn, CONTACTS_SOURCE)
    if mark is None:
        mark = conn.execute("SELECT min(loaded_at) FROM raw.hubspot_contacts").fetchone()[0]
        if mark is None:
            return None
    start = mark - overlap
    scope = f"{start.isoformat()}/{end.isoformat()}"
    position, completed = read_watermark(conn, scope, CONTACTS_SOURCE)
    if position is None or completed or position.get("done"):
        position = initial_search_position(start)
    region = hook.settings.default_phone_region
    for batch in modified_deal_batches(hook, typing.contact_properties, end, position, object_type="contacts"):
        ids = [contact.id for contact in batch.deals]
        known = {row[0] for row in conn.execute(
            "SELECT contact_id FROM raw.hubspot_contacts WHERE contact_id = ANY(%s)", (ids,))}
        rows, issues = contact_rows([contact for contact in batch.deals if contact.id in known], typing, region)
        with conn.transaction():
            conn.execute("SELECT set_config('pin2deal.run_id', %s, true)", (run_id,))
            if rows:
                counts.contacts_refreshed += copy_upsert(
                    conn, "raw.hubspot_contacts", CONTACT_COLUMNS, rows, ["contact_id"], extra_updates=CHANGED
                )
                replace_record_issues(conn, CONTACT_ISSUES, (str(row[0]) for row in rows), issues, run_id)
            save_watermark(conn, scope, batch.position, run_id, completed=False, source=CONTACTS_SOURCE)
        counts.contacts_read += len(ids)
        counts.contact_issues += len(issues)
    with conn.transaction():
        save_watermark(conn, scope, {"done": True}, run_id, completed=True, source=CONTACTS_SOURCE)
        return advance_mark(conn, end, run_id, CONTACTS_SOURCE)
