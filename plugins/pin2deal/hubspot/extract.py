"""Complete, resumable HubSpot deal extraction: which deals to read, in what order, and how each batch lands.

**Which deals** (``modified_deal_batches``): the search API, filtered ``from <= hs_lastmodifieddate < end`` and
sorted by it ascending, read with *keyset* paging: every request is a first page whose lower bound is the last
modification instant already read (boundary deals seen at that instant are skipped). No query ever pages by
offset, so the 10,000-result cap is never reached however many deals an interval holds, and a deal modified
while we page (which moves to the end of the sort order) cannot shift an unread deal out of an offset window,
the way offset paging loses records. When a whole page shares one instant (a bulk import gives thousands of
deals the same ``hs_lastmodifieddate``), that instant is read on its own by numeric ``hs_object_id`` keyset
(``GT last id``, sorted by id), then the window continues after it. ``full_refresh`` lists every deal instead
(active, then archived), with HubSpot's cursor.

**How a batch lands** (``DealBatchLoader``): up to ``batch_size`` deals with their contacts (v4 associations,
1,000 deals a call; contacts, 100 a call) are typed and merged into the raw tables in one transaction together
with the watermark (``ops.watermarks``) that says where the next batch starts, so a killed run resumes after the
last committed batch and a re-run rewrites nothing that did not change. Before it lands, the live deals its
deals' legacy ids name (their predecessors: a CRM migration re-creates deals under new ids) are looked up in
HubSpot, 100 a batch read: those gone are marked deleted in the same transaction and their successors take their
lineages' stable keys, so no hourly run counts a re-created sale twice while it waits for a full refresh.

**Throughput** (``run_pipeline``): the search budget (5/s per account) and the 10-second budget of the batch
reads are separate, so the search paging, the association/contact reads and the loads run in three threads
connected by small bounded queues: memory is a few batches whatever the number of deals.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from psycopg import ClientCursor, Connection
from psycopg.types.json import Jsonb

from pin2deal.hooks.hubspot_api import (
    MAX_LIST_PAGE,
    MAX_SEARCH_PAGE,
    MODIFIED,
    MODIFIED_PROPERTY,
    Association,
    CrmObject,
    HubSpotHook,
)
from pin2deal.hooks.warehouse import copy_upsert, replace_record_issues
from pin2deal.hubspot.records import (
    CONTACT_COLUMNS,
    DEAL_COLUMNS,
    DEAL_CONTACT_COLUMNS,
    LEGACY_DEAL_ID_COLUMN,
    STAGE_COLUMNS,
    DealTyping,
    contact_rows,
    deal_rows,
    stage_row,
)
from pin2deal.normalize import parse_timestamp, to_epoch_ms
from pin2deal.paths import SQL_DIR

log = logging.getLogger(__name__)

WATERMARK_SOURCE = "hubspot.deals"
MARK_SCOPE = "high_water_mark"  # ops.watermarks scope of the end of the last completed read (hubspot/window.py)
DEAL_ISSUES = "hubspot.deal"
CONTACT_ISSUES = "hubspot.contact"
# Applied to rows an upsert changes (new rows get both from the column defaults).
CHANGED = "loaded_at = now(), run_id = current_setting('pin2deal.run_id', true)"
AFTER_DEAL_PAGE_SQL = SQL_DIR / "hubspot" / "after_deal_page.sql"
PREDECESSORS_SQL = SQL_DIR / "hubspot" / "predecessors.sql"
REKEY_SQL = SQL_DIR / "hubspot" / "rekey_after_sweep.sql"


@dataclass
class DealBatch:
    """Deals to load together, and the read position just after them (the watermark once they are loaded)."""

    deals: list[CrmObject]
    position: dict[str, Any]
    associations: dict[int, list[Association]] = field(default_factory=dict)
    contacts: list[CrmObject] = field(default_factory=list)
    missing_contacts: list[int] = field(default_factory=list)


def modified_ms(deal: CrmObject, name: str = MODIFIED) -> int:
    """The deal's ``hs_lastmodifieddate`` (a contact's ``lastmodifieddate``) in epoch ms (the search's sort key),
    falling back to ``updatedAt``."""
    moment = None
    try:
        moment = parse_timestamp(deal.properties.get(name))
    except ValueError:
        pass
    moment = moment or deal.updated_at
    if moment is None:
        raise ValueError(f"deal {deal.id} has neither {MODIFIED} nor updatedAt: cannot page past it")
    return to_epoch_ms(moment)


def initial_search_position(start: dt.datetime) -> dict[str, Any]:
    return {"from_ms": to_epoch_ms(start), "seen_ids": [], "instant": None}


def modified_deal_batches(
    hook: HubSpotHook,
    properties: list[str],
    end: dt.datetime,
    position: dict[str, Any],
    *,
    batch_size: int = 1000,
    page_size: int = MAX_SEARCH_PAGE,
    object_type: str = "deals",
) -> Iterator[DealBatch]:
    """Every deal with ``position['from_ms'] <= hs_lastmodifieddate < end``, exactly once, in batches (contacts
    and their ``lastmodifieddate`` with ``object_type="contacts"``; the batch's ``deals`` are then contacts).

    ``position`` (JSON): ``from_ms`` (next lower bound, inclusive), ``seen_ids`` (deals at ``from_ms`` already
    read), ``instant`` (``{"at_ms", "after_id"}`` while one instant is read by id). See the module docstring.
    """
    end_ms = to_epoch_ms(end)
    from_ms: int = position["from_ms"]
    seen: set[int] = set(position.get("seen_ids") or [])
    instant: dict[str, int] | None = position.get("instant")
    pending: list[CrmObject] = []

    def snapshot() -> dict[str, Any]:
        return {"from_ms": from_ms, "seen_ids": sorted(seen), "instant": dict(instant) if instant else None}

    while True:
        before = snapshot()
        if instant is not None:
            page = hook.search_deals_modified_at(
                properties, at_ms=instant["at_ms"], after_id=instant["after_id"], limit=page_size,
                object_type=object_type,
            )
            pending.extend(deal for deal in page.objects if deal.id not in seen)
            if len(page.objects) < page_size:  # the instant is exhausted: continue after it
                from_ms, seen, instant = instant["at_ms"] + 1, set(), None
            else:
                instant = {"at_ms": instant["at_ms"], "after_id": page.objects[-1].id}
            done = False
        else:
            if from_ms >= end_ms:
                break
            page = hook.search_deals_modified(
                properties, from_ms=from_ms, to_ms=end_ms, limit=page_size, object_type=object_type
            )
            deals = page.objects
            modified = MODIFIED_PROPERTY[object_type]
            stamps = [modified_ms(deal, modified) for deal in deals]
            pending.extend(
                deal for deal, at in zip(deals, stamps, strict=True) if not (at == from_ms and deal.id in seen)
            )
            done = len(deals) < page_size
            if not done:
                first, last = stamps[0], stamps[-1]
                if first == last:
                    # A full page on one instant: it may hold more deals than a page; read it by id.
                    if first != from_ms:
                        seen = set()
                    seen.update(deal.id for deal in deals)
                    from_ms, instant = first, {"at_ms": first, "after_id": 0}
                else:  # last > first >= from_ms: the next page starts at the last instant read
                    seen = {deal.id for deal, at in zip(deals, stamps, strict=True) if at == last}
                    from_ms = last
        if done:
            break
        if snapshot() == before:  # only if the search broke its own filter or sort: fail rather than loop forever
            raise RuntimeError(f"HubSpot {object_type} search made no progress at {from_ms} (position {before})")
        if len(pending) > batch_size - page_size:  # one more page could overflow the batch (and its 1,000-deal calls)
            yield DealBatch(pending, snapshot())
            pending = []
    yield DealBatch(pending, {"from_ms": end_ms, "seen_ids": [], "instant": None, "done": True})


def listed_deal_batches(
    hook: HubSpotHook, properties: list[str], position: dict[str, Any], *, batch_size: int = 1000
) -> Iterator[DealBatch]:
    """Every deal, active then archived (``full_refresh``), via the list endpoint (no result cap)."""
    archived: bool = position.get("archived", False)
    after: str | None = position.get("after")
    pending: list[CrmObject] = []
    while True:
        page = hook.list_deals(properties, archived=archived, after=after, limit=MAX_LIST_PAGE)
        pending.extend(page.objects)
        after = page.after
        if after is None:
            if archived:
                break
            archived = True
        if len(pending) > batch_size - MAX_LIST_PAGE:
            yield DealBatch(pending, {"archived": archived, "after": after})
            pending = []
    yield DealBatch(pending, {"archived": True, "after": None, "done": True})


class BatchEnricher:
    """Reads the contacts of a batch's deals: associations, then the contacts themselves on a few threads."""

    def __init__(self, hook: HubSpotHook, contact_properties: list[str], workers: int = 4) -> None:
        self.hook = hook
        self.contact_properties = contact_properties
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hubspot-contacts")

    def __call__(self, batch: DealBatch) -> DealBatch:
        ids = list(dict.fromkeys(deal.id for deal in batch.deals))
        if not ids:
            return batch
        batch.associations = self.hook.deal_contacts(ids)
        contact_ids = sorted({link.contact_id for links in batch.associations.values() for link in links})
        chunks = [contact_ids[start : start + 100] for start in range(0, len(contact_ids), 100)]
        for contacts, missing in self.pool.map(
            lambda chunk: self.hook.read_contacts(chunk, self.contact_properties), chunks
        ):
            batch.contacts.extend(contacts)
            batch.missing_contacts.extend(missing)
        return batch

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class LoadCounts:
    batches: int = 0
    deals: int = 0
    deals_changed: int = 0
    contacts: int = 0
    contacts_changed: int = 0
    associations: int = 0
    deal_issues: int = 0
    contact_issues: int = 0
    missing_contacts: int = 0
    association_errors: int = 0  # deals whose contacts could not be read: their stored links were kept
    predecessors_checked: int = 0  # live deals the loaded deals' legacy ids name, looked up in HubSpot
    predecessors_gone: int = 0  # of those, gone from HubSpot: marked deleted, their successors took their keys

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class DealBatchLoader:
    """Merges one enriched batch into the raw tables and moves the watermark, in one transaction."""

    def __init__(
        self, conn: Connection, hubspot: HubSpotHook, typing: DealTyping, *, scope: str, run_id: str,
        default_phone_region: str,
    ) -> None:
        self.conn, self.hubspot, self.typing, self.scope, self.run_id = conn, hubspot, typing, scope, run_id
        self.region = default_phone_region
        self.counts = LoadCounts()
        self.after_page_sql = AFTER_DEAL_PAGE_SQL.read_text(encoding="utf-8")
        self.predecessors_sql = PREDECESSORS_SQL.read_text(encoding="utf-8")
        self.rekey_sql = REKEY_SQL.read_text(encoding="utf-8")

    def __call__(self, batch: DealBatch) -> None:
        deals, deal_issues = deal_rows(batch.deals, self.typing)
        contacts, contact_issues = contact_rows(batch.contacts, self.typing, self.region)
        deal_ids = [deal.id for deal in batch.deals]
        gone = self._predecessors_gone(deal_ids, deals)
        links = [
            (link.deal_id, link.contact_id, list(link.type_ids), list(link.labels))
            for deal_id in deal_ids
            for link in batch.associations.get(deal_id, [])
        ]
        with self.conn.transaction():
            self.conn.execute("SELECT set_config('pin2deal.run_id', %s, true)", (self.run_id,))
            if deals:
                self.counts.deals_changed += copy_upsert(
                    self.conn, "raw.hubspot_deals", DEAL_COLUMNS, deals, ["deal_id"], extra_updates=CHANGED
                )
                self.counts.contacts_changed += copy_upsert(
                    self.conn, "raw.hubspot_contacts", CONTACT_COLUMNS, contacts, ["contact_id"],
                    extra_updates=CHANGED,
                )
                self._replace_associations([deal_id for deal_id in deal_ids if deal_id in batch.associations], links)
                with ClientCursor(self.conn) as cur:
                    cur.execute(self.after_page_sql, {"deal_ids": deal_ids, "predecessors_gone": gone})
                if gone:  # deals of the page refused their lineage before, while its holder was live
                    self.conn.execute(self.rekey_sql, {"deal_ids": deal_ids})
                replace_record_issues(self.conn, DEAL_ISSUES, map(str, deal_ids), deal_issues, self.run_id)
                replace_record_issues(
                    self.conn, CONTACT_ISSUES, (str(contact.id) for contact in batch.contacts), contact_issues,
                    self.run_id,
                )
            save_watermark(self.conn, self.scope, batch.position, self.run_id, completed=False)
        counts = self.counts
        counts.batches += 1
        counts.deals += len(deals)
        counts.contacts += len(contacts)
        counts.associations += len(links)
        counts.deal_issues += len(deal_issues)
        counts.contact_issues += len(contact_issues)
        counts.missing_contacts += len(batch.missing_contacts)
        counts.association_errors += sum(1 for deal_id in deal_ids if deal_id not in batch.associations)

    def _predecessors_gone(self, deal_ids: list[int], deals: list[tuple[Any, ...]]) -> list[int]:
        """The live deals this page's deals succeed that HubSpot no longer has (``predecessors.sql``; one batch read
        per 100 of them). Read before the page's transaction: no transaction stays open across HubSpot calls."""
        legacy = [(row[0], row[LEGACY_DEAL_ID_COLUMN]) for row in deals if row[LEGACY_DEAL_ID_COLUMN] is not None]
        if not legacy:
            return []
        holders = [row[0] for row in self.conn.execute(self.predecessors_sql, {
            "deal_ids": deal_ids, "legacy_deal_ids": [deal_id for deal_id, _ in legacy],
            "legacy_ids": [legacy_id for _, legacy_id in legacy],
        })]  # fmt: skip
        if not holders:
            return []
        gone = self.hubspot.missing_deal_ids(holders)
        self.counts.predecessors_checked += len(holders)
        self.counts.predecessors_gone += len(gone)
        if len(gone) < len(holders):
            log.info("%s deals named by legacy ids still exist in HubSpot: their newcomers keep their own keys "
                     "(ops.record_issues, hubspot.deal_key)", len(holders) - len(gone))
        return gone

    def _replace_associations(self, deal_ids: list[int], links: list[tuple[Any, ...]]) -> None:
        """A loaded deal's contacts are exactly those just read: drop the pairs that are gone, upsert the rest."""
        self.conn.execute(
            """DELETE FROM raw.hubspot_deal_contacts AS link
               WHERE link.deal_id = ANY(%(deals)s)
                 AND (link.deal_id, link.contact_id) NOT IN (
                     SELECT * FROM unnest(%(link_deals)s::bigint[], %(link_contacts)s::bigint[]))""",
            {
                "deals": deal_ids,
                "link_deals": [link[0] for link in links],
                "link_contacts": [link[1] for link in links],
            },
        )
        if links:
            copy_upsert(
                self.conn, "raw.hubspot_deal_contacts", DEAL_CONTACT_COLUMNS, links, ["deal_id", "contact_id"],
                extra_updates=CHANGED,
            )


def load_stages(conn: Connection, stages: list[Any]) -> int:
    with conn.transaction():
        return copy_upsert(
            conn, "raw.hubspot_pipeline_stages", STAGE_COLUMNS, [stage_row(stage) for stage in stages],
            ["pipeline_id", "stage_id"], extra_updates="loaded_at = now()",
        )


def read_watermark(
    conn: Connection, scope: str, source: str = WATERMARK_SOURCE
) -> tuple[dict[str, Any] | None, bool]:
    """(position, completed) of a scope, or (None, False) when it was never started."""
    row = conn.execute(
        "SELECT position, completed FROM ops.watermarks WHERE source = %s AND scope = %s", (source, scope)
    ).fetchone()
    return (row[0], row[1]) if row else (None, False)


def read_mark(conn: Connection, source: str = WATERMARK_SOURCE) -> dt.datetime | None:
    """The high-water mark: the end of the last completed read of modified deals (``pin2deal.hubspot.window``)."""
    position, _ = read_watermark(conn, MARK_SCOPE, source)
    return dt.datetime.fromisoformat(position["read_to"]) if position else None


def advance_mark(conn: Connection, read_to: dt.datetime, run_id: str, source: str = WATERMARK_SOURCE) -> dt.datetime:
    """Move the mark forward to ``read_to`` (never back: a late run that read less keeps the later mark)."""
    row = conn.execute(
        """INSERT INTO ops.watermarks (source, scope, position, completed, run_id, updated_at)
           VALUES (%(source)s, %(scope)s, %(position)s, true, %(run_id)s, now())
           ON CONFLICT (source, scope) DO UPDATE
           SET position = EXCLUDED.position, run_id = EXCLUDED.run_id, updated_at = now()
           WHERE (ops.watermarks.position ->> 'read_to')::timestamptz < (EXCLUDED.position ->> 'read_to')::timestamptz
           RETURNING position ->> 'read_to'""",
        {"source": source, "scope": MARK_SCOPE, "position": Jsonb({"read_to": read_to.isoformat()}),
         "run_id": run_id},
    ).fetchone()
    return read_to if row else (read_mark(conn, source) or read_to)


def save_watermark(
    conn: Connection, scope: str, position: dict[str, Any], run_id: str, *, completed: bool,
    source: str = WATERMARK_SOURCE,
) -> None:
    conn.execute(
        """INSERT INTO ops.watermarks (source, scope, position, completed, run_id, updated_at)
           VALUES (%s, %s, %s, %s, %s, now())
           ON CONFLICT (source, scope) DO UPDATE
           SET position = EXCLUDED.position, completed = EXCLUDED.completed, run_id = EXCLUDED.run_id,
               updated_at = now()""",
        (source, scope, Jsonb(position), completed, run_id),
    )


_DONE = object()


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def run_pipeline(
    batches: Iterator[DealBatch],
    enrich: Callable[[DealBatch], DealBatch],
    load: Callable[[DealBatch], None],
    *,
    depth: int = 2,
) -> None:
    """Search, enrich and load concurrently (see the module docstring); batches are loaded in read order.

    Each queue holds at most ``depth`` batches, so memory stays flat. The first error stops every stage and is
    re-raised here; batches already loaded stay committed (the watermark points after them).
    """
    stop = threading.Event()
    found: queue.Queue[Any] = queue.Queue(maxsize=depth)
    enriched: queue.Queue[Any] = queue.Queue(maxsize=depth)

    def put(target: queue.Queue[Any], item: Any) -> bool:
        while not stop.is_set():
            try:
                target.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for batch in batches:
                if not put(found, batch):
                    return
            put(found, _DONE)
        except BaseException as error:  # handed to the loader, which re-raises it
            put(found, _Failed(error))

    def transform() -> None:
        while not stop.is_set():
            try:
                item = found.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                result = item if item is _DONE or isinstance(item, _Failed) else enrich(item)
            except BaseException as error:
                result = _Failed(error)
            put(enriched, result)
            if result is _DONE or isinstance(result, _Failed):
                return

    threads = [
        threading.Thread(target=produce, name="hubspot-search", daemon=True),
        threading.Thread(target=transform, name="hubspot-enrich", daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        while True:
            item = enriched.get()
            if item is _DONE:
                break
            if isinstance(item, _Failed):
                raise item.error
            load(item)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
