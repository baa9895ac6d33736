"""What readers see while ``attribution_reconcile`` writes (docs/reconcile.md, "What readers see"): the briefing's
read, the UI page and the Conversions API outbox fill run in their own PostgreSQL sessions while a run commits, each
held between two of its reads by a lock handoff, so the interleaving is the same however fast the run is. They see
the state before the run or the state after it, whole: never an emptied mart, never one mart moved and not another.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException

from pin2deal.briefing.pipeline import read_frames
from pin2deal.capi.send import fill_outbox
from pin2deal.ui.app import read_page
from tests.reconcile.conftest import MIDNIGHT
from tests.reconcile.reconcile_worlds import D1, D2, D4, D8, D9, TIMEZONE, TODAY, world
from tests.reconcile.test_attribution_reconcile_dag import mutate, snapshot

FUNNEL_KEY = "grain, grain_id, period, period_start, pipeline, stage"

# A session waiting for a lock on a mart (its view, its generations' table or one generation) or another table.
WAITING_SQL = r"""
SELECT count(DISTINCT pid) FROM pg_locks
WHERE NOT granted AND relation::regclass::text ~ ('^' || %s || '(_generations|_g[0-9]+)?$')
"""


def waiting(watch: psycopg.Connection, table: str) -> int:
    return watch.execute(WAITING_SQL, (table.replace(".", r"\."),)).fetchone()[0]


def wait_until(condition: Callable[[], bool], why: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, why
        time.sleep(0.01)


class Held:
    """A lock held in an open transaction of its own session until ``release()``; taken in a thread when it has to
    wait (``queued``), so the test can go on while it does."""

    def __init__(self, url: str, statement: str, *, queued: bool = False) -> None:
        self.conn = psycopg.connect(url)
        self.statement = statement
        self.thread = threading.Thread(target=self.conn.execute, args=(statement,), daemon=True)
        if queued:
            self.thread.start()
        else:
            self.conn.execute(statement)

    def release(self) -> None:
        if self.thread.is_alive() or self.thread.ident:
            self.thread.join(timeout=120)
            assert not self.thread.is_alive(), f"{self.statement} was never granted"
        self.conn.commit()
        self.conn.close()


class Reader(threading.Thread):
    """A reader in its own session; ``result`` is what it read, ``error`` why it could not."""

    def __init__(self, read: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.read, self.result, self.error = read, None, None

    def run(self) -> None:
        try:
            self.result = self.read()
        except BaseException as error:  # reported by the test
            self.error = error


def briefing(url: str) -> dict[str, Any]:
    """What the briefing reads for its day (one REPEATABLE READ snapshot), as comparable rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        frames = read_frames(conn, TODAY, ZoneInfo(TIMEZONE))
    tables = {name: getattr(frames, name) for name in ("accounts", "performance", "channels", "deals")}
    return {
        **{name: sorted(table.map(repr).itertuples(index=False, name=None)) for name, table in tables.items()},
        "freshness": repr(sorted(frames.freshness.items())),
    }


def page(url: str) -> dict[str, Any]:
    """What the UI page shows (its read-only REPEATABLE READ snapshot): CAC per campaign, epik coverage, the stage
    funnel."""
    with psycopg.connect(url) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        shown = read_page(conn, "campaign", None, None)
    return {
        "period": (shown["first"], shown["last"]), "cac": repr(shown["cac"].rows), "epik": repr(shown["epik"].rows),
        "funnel": (shown["campaign"], repr(shown["funnel"].rows)),
    }  # fmt: skip


def delete_in_hubspot(warehouse: psycopg.Connection, deal_id: int) -> None:
    """As the extraction's deletion check marks a deal HubSpot no longer lists."""
    warehouse.execute(
        "UPDATE raw.hubspot_deals SET deleted_at = now(), loaded_at = now() WHERE deal_id = %s", (deal_id,)
    )


class RebuildHandoff(threading.Thread):
    """Holds a rebuild as it publishes, with its whole generation written (and committed by the tasks that wrote
    it), starts the readers then (each takes its snapshot), keeps them from reading the marts until the publication
    has committed, and lets them read.

    The rebuild's first write waits on ``gate`` (taken by the test before the run); a share lock on
    ops.mart_publication is taken then, and ``gate`` let go: the rebuild writes its generation and its publish_marts
    waits to write the publication. An exclusive lock on mart.performance is taken (the rebuild holds none on it any
    more), and the readers' reads of mart.performance queue behind it, after their first read (their snapshot). The
    share lock let go, the rebuild publishes and commits; the exclusive lock let go, the readers read with their
    snapshots from before the publication."""

    def __init__(self, url: str, gate: Held, readers: dict[str, Callable[[], Any]]) -> None:
        super().__init__(daemon=True)
        self.url, self.gate, self.readers = url, gate, {name: Reader(read) for name, read in readers.items()}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with psycopg.connect(self.url, autocommit=True) as watch:
                wait_until(lambda: waiting(watch, "mart.performance_pending") >= 1, "reconcile_deals never began")
                publication = Held(self.url, "LOCK TABLE ops.mart_publication IN SHARE MODE")
                self.gate.release()
                wait_until(lambda: waiting(watch, "ops.mart_publication") >= 1, "the rebuild never came to publish")
                published = watch.execute("SELECT generation FROM ops.mart_publication").fetchone()
                marts = Held(self.url, "LOCK TABLE mart.performance IN ACCESS EXCLUSIVE MODE")
                for reader in self.readers.values():
                    reader.start()
                wait_until(lambda: waiting(watch, "mart.performance") >= len(self.readers), "the readers never queued")
                publication.release()  # the rebuild publishes and commits; then the readers read
                wait_until(
                    lambda: watch.execute("SELECT generation FROM ops.mart_publication").fetchone() != published,
                    "the rebuild never published",
                )
                marts.release()
                for reader in self.readers.values():
                    reader.join(timeout=120)
        except BaseException as error:  # reported by the test
            self.error = error

    def read(self) -> dict[str, Any]:
        for name, reader in self.readers.items():
            assert reader.error is None and reader.result is not None, f"{name}: {reader.error!r}"
        return {name: reader.result for name, reader in self.readers.items()}


def test_a_rebuild_committing_while_the_briefing_and_the_page_read_leaves_them_on_the_state_before_it(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
    warehouse_url: str,
) -> None:
    serve_world(world())
    extract()
    reconcile()
    delete_in_hubspot(warehouse, D4)  # the rebuild drops D4: a lead of 2 June, won on 4 June
    readers = {"briefing": lambda: briefing(warehouse_url), "page": lambda: page(warehouse_url)}
    before = {name: read() for name, read in readers.items()}

    gate = Held(warehouse_url, "LOCK TABLE mart.performance_pending IN SHARE MODE")
    handoff = RebuildHandoff(warehouse_url, gate, readers)
    handoff.start()
    try:
        summary = reconcile(full_rebuild=True)
    finally:
        handoff.join(timeout=180)
    assert handoff.error is None, repr(handoff.error)
    assert summary["mode"] == "full"
    during = handoff.read()
    after = {name: read() for name, read in readers.items()}

    assert during == before, "read during the rebuild's commit: the state before it, whole (not emptied, not mixed)"
    assert after["briefing"] != before["briefing"] and after["page"] != before["page"], "and the rebuild's after it"
    # The generation the readers kept reading is dropped (by this run or the next), once nobody can read it.
    reconcile()
    partitions = warehouse.execute(
        "SELECT count(*) FROM pg_inherits JOIN pg_class ON pg_class.oid = inhrelid WHERE relname ~ '_g[1-9][0-9]*$'"
    ).fetchone()[0]
    assert partitions == 7, "one generation of each of the 7 marts (the funnel's two included) is left"
    # A published rebuild's tasks never write its generation again (readers would see them one by one).
    rebuild = warehouse.execute(
        "SELECT run_id FROM ops.reconcile_runs WHERE mode = 'full' ORDER BY started_at DESC LIMIT 1"
    ).fetchone()[0]
    with pytest.raises(psycopg.errors.RaiseException, match="published its rebuild"):
        warehouse.execute("SELECT mart.use_run_generation(%s)", (rebuild,))


def generation_marts(url: str, generation: int) -> dict[str, list[tuple]]:
    """Every mart of one generation, as readers would see it once published (the funnel's two included)."""
    with psycopg.connect(url) as conn:
        conn.execute("SELECT mart.use_generation(%s)", (generation,))
        marts = snapshot(conn)
        for mart, key in (("funnel", FUNNEL_KEY), ("funnel_entries", "stable_key, pipeline, stage")):
            marts[f"mart.{mart}"] = conn.execute(
                f"SELECT to_jsonb(mart) - 'reconciled_at' FROM mart.{mart} AS mart ORDER BY {key}"
            ).fetchall()
        conn.rollback()
    return marts


def clear_and_run(dagbag: Any, dag_run: Any, task_id: str) -> Any:
    """A task of ``dag_run`` cleared and run again, as a worker runs it: the DAG's task rendered for the run (its
    plan from the run's XCom, its params) and executed in this process."""
    plan = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "plan_reconcile")
    task = dagbag.get_dag("attribution_reconcile").get_task(task_id).prepare_for_execution()
    context = {"ti": plan, "run_id": dag_run.run_id, "params": dag_run.conf}
    task.render_template_fields(context)
    return task.execute(context)


def test_a_rebuild_task_cleared_rewrites_its_marts_once_and_never_a_published_generation(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    run_dag: Callable[..., Any],
    dagbag: Any,
    warehouse: psycopg.Connection,
    warehouse_url: str,
) -> None:
    """rebuild_performance and rebuild_funnel write a rebuild's generation outside publish_marts' transaction: run
    again for their run (cleared, or retried) they replace what they wrote, never add to it, and once their rebuild
    is published they refuse to write it (readers would see the rows change)."""
    crm = serve_world(world())
    extract()
    reconcile()
    published = snapshot(warehouse)
    # A CRM migration re-creates D1 (won) under a new id, D8 is merged into D9, D4 is deleted: the next hourly
    # extraction loads them; then a rebuild whose blocking check fails (2 of 11 paid deals unresolved > 5 %).
    mutate(crm, "deals/re-id", {"ids": [str(D1)], "firstId": 900_000})
    mutate(crm, "deals/merge", {"primaryObjectId": str(D9), "objectIdToMerge": str(D8)})
    delete_in_hubspot(warehouse, D4)
    now = crm.app.state.sandbox.now()
    run_dag("hubspot_deals", now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1),
            conf={"full_refresh": False, "since": None})  # fmt: skip
    failed = reconcile(full_rebuild=True, max_unresolved=0.05, expect="failed")
    tasks = {ti.task_id: str(ti.state) for ti in failed.get_task_instances()}
    assert (tasks["rebuild_performance"], tasks["rebuild_funnel"], tasks["publish_marts"]) == (
        "success", "success", "failed"
    ), tasks  # fmt: skip
    assert snapshot(warehouse) == published, "readers keep the last published marts"
    generation = failed.get_task_instances()[0].xcom_pull(task_ids="plan_reconcile")["generation"]
    written = generation_marts(warehouse_url, generation)
    assert all(written.values()), "every mart of the unpublished generation has rows"

    # Cleared, each task runs again for its run: the same rows, once each (the generation's keys are unique too).
    for task_id in ("rebuild_performance", "rebuild_funnel", "rebuild_performance"):
        clear_and_run(dagbag, failed, task_id)
    assert generation_marts(warehouse_url, generation) == written
    assert snapshot(warehouse) == published

    # A rebuild within the limit publishes the same marts, computed from scratch; its tasks cleared after that fail,
    # naming why, and change nothing readers see.
    conf = {**failed.conf, "max_unresolved_paid_share": 0.25}
    rebuilt = run_dag("attribution_reconcile", MIDNIGHT, conf=conf)
    publication = warehouse.execute("SELECT generation FROM ops.mart_publication").fetchone()[0]
    assert generation_marts(warehouse_url, publication) == written
    for task_id in ("rebuild_performance", "rebuild_funnel"):
        with pytest.raises(AirflowFailException, match="published its rebuild"):
            clear_and_run(dagbag, rebuilt, task_id)
    assert generation_marts(warehouse_url, publication) == written


def test_an_incremental_run_shows_readers_nothing_before_its_marts_are_all_written(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
    warehouse_url: str,
) -> None:
    serve_world(world())
    extract()
    reconcile()
    delete_in_hubspot(warehouse, D4)
    before = briefing(warehouse_url)

    # The run's deal rows are decided (and, before, committed) by reconcile_deals; the briefing reads while the
    # run's last transaction waits to write mart.truth_vs_platform.
    truth = Held(warehouse_url, "LOCK TABLE mart.truth_vs_platform IN SHARE MODE")
    during: dict[str, Any] = {}

    def read_while_the_run_waits() -> None:
        with psycopg.connect(warehouse_url, autocommit=True) as watch:
            wait_until(lambda: waiting(watch, "mart.truth_vs_platform") >= 1, "the marts were never written")
        during["briefing"] = briefing(warehouse_url)
        truth.release()

    reader = Reader(read_while_the_run_waits)
    reader.start()
    try:
        summary = reconcile()
    finally:
        reader.join(timeout=180)
    assert reader.error is None, repr(reader.error)
    assert summary["mode"] == "incremental" and summary["deals_changed"] >= 1
    assert during["briefing"] == before, "the deals moved, the performance rows not yet: a state that never existed"
    assert briefing(warehouse_url) != before


def test_the_outbox_fill_reads_one_state_while_a_reconcile_publishes(
    serve_world: Callable[..., Any],
    extract: Callable[..., None],
    reconcile: Callable[..., Any],
    warehouse: psycopg.Connection,
    warehouse_url: str,
) -> None:
    serve_world(world())
    extract()
    reconcile()

    def fill() -> set[str]:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            fill_outbox(conn)
            return {event_id for (event_id,) in conn.execute("SELECT event_id FROM ops.capi_outbox")}

    old = fill()
    assert f"won_hubspot:{D4}" in old and f"won_hubspot:{D2}" not in old
    # The next reconcile drops D4 and wins D2 (in HubSpot's closed-won stage on 20 June).
    delete_in_hubspot(warehouse, D4)
    warehouse.execute(
        "UPDATE raw.hubspot_deals SET dealstage = 'closedwon', closed_at = %s, loaded_at = now() WHERE deal_id = %s",
        (dt.datetime(2025, 6, 20, 15, tzinfo=dt.UTC), D2),
    )
    # The fill takes its snapshot and reads the deals, then waits for the contacts until the reconcile has published.
    contacts = Held(warehouse_url, "LOCK TABLE raw.hubspot_contacts IN ACCESS EXCLUSIVE MODE")
    filler = Reader(fill)
    with psycopg.connect(warehouse_url, autocommit=True) as watch:
        filler.start()
        wait_until(lambda: waiting(watch, "raw.hubspot_contacts") >= 1, "the fill never read the contacts")
        try:
            assert reconcile()["mode"] == "incremental"
        finally:
            contacts.release()
            filler.join(timeout=120)
    assert filler.error is None, repr(filler.error)
    assert filler.result == old, "the fill inserted from one state and deleted by another"
    new = fill()
    # D4's lead and checkout are gone with it; D2's lead was there, its checkout comes.
    assert f"lead_hubspot:{D4}" in old and f"lead_hubspot:{D2}" in old
    assert new == (old - {f"won_hubspot:{D4}", f"lead_hubspot:{D4}"}) | {f"won_hubspot:{D2}"}
