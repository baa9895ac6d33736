"""Migrations: ordered, exactly once, safe under concurrency, and all-or-nothing per file."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pin2deal.hooks.warehouse import MigrationError, apply_migrations, copy_upsert, migration_files
from pin2deal.paths import SCHEMA_DIR
from tests.conftest import database_url


@pytest.fixture
def scratch_db(warehouse_url: str):
    """An empty database beside the session's one, for migrations that must start from nothing."""
    name = f"scratch_{threading.get_ident()}"
    with psycopg.connect(warehouse_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield database_url(warehouse_url, name)
    with psycopg.connect(warehouse_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _objects(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'mart', 'ops') ORDER BY 1, 2"
        ).fetchall()


def test_session_database_has_every_migration(warehouse) -> None:
    applied = [row[0] for row in warehouse.execute("SELECT filename FROM ops.schema_migrations ORDER BY version")]
    assert applied == [path.name for path in migration_files(SCHEMA_DIR)]


def test_running_twice_applies_nothing_the_second_time(scratch_db: str) -> None:
    with psycopg.connect(scratch_db) as conn:
        first = apply_migrations(conn)
        objects = _objects(scratch_db)
        second = apply_migrations(conn)
    assert first == [path.name for path in migration_files()]
    assert second == []
    assert _objects(scratch_db) == objects


def test_two_concurrent_runners_apply_each_file_once(scratch_db: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(scratch_db) as conn:
                results.append(apply_migrations(conn))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(result) for result in results) == [0, len(migration_files())]
    with psycopg.connect(scratch_db) as conn:
        assert conn.execute("SELECT count(*) FROM ops.schema_migrations").fetchone()[0] == len(migration_files())


def test_broken_migration_names_file_and_leaves_database_unchanged(scratch_db: str, tmp_path: Path) -> None:
    (tmp_path / "001_good.sql").write_text("CREATE SCHEMA IF NOT EXISTS raw; CREATE TABLE raw.good (id int);")
    (tmp_path / "002_broken.sql").write_text("CREATE TABLE raw.half (id int);\nCREATE TABLE raw.bad (id nosuchtype);")
    with psycopg.connect(scratch_db) as conn:
        with pytest.raises(MigrationError, match=r"002_broken\.sql: .*nosuchtype"):
            apply_migrations(conn, tmp_path)
    with psycopg.connect(scratch_db) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema='raw'")
        ]
        versions = [row[0] for row in conn.execute("SELECT version FROM ops.schema_migrations")]
    assert tables == ["good"]
    assert versions == ["001"]


def test_edited_applied_migration_is_refused(scratch_db: str, tmp_path: Path) -> None:
    migration = tmp_path / "001_one.sql"
    migration.write_text("CREATE TABLE public.one (id int);")
    with psycopg.connect(scratch_db) as conn:
        apply_migrations(conn, tmp_path)
        migration.write_text("CREATE TABLE public.one (id bigint);")
        with pytest.raises(MigrationError, match="001_one.sql: changed after it was applied"):
            apply_migrations(conn, tmp_path)


def test_badly_named_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_x.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="1_x.sql"):
        migration_files(tmp_path)


def test_copy_upsert_merges_keeps_last_and_skips_unchanged(warehouse) -> None:
    warehouse.execute("CREATE TABLE IF NOT EXISTS raw.t_upsert (id int PRIMARY KEY, v text, loaded_at timestamptz)")
    with warehouse.transaction():
        changed = copy_upsert(warehouse, "raw.t_upsert", ["id", "v"], [(1, "a"), (2, "b"), (1, "c")], ["id"])
    assert changed == 2
    assert warehouse.execute("SELECT id, v FROM raw.t_upsert ORDER BY id").fetchall() == [(1, "c"), (2, "b")]
    with warehouse.transaction():
        unchanged = copy_upsert(
            warehouse, "raw.t_upsert", ["id", "v"], [(1, "c"), (2, "x")], ["id"], extra_updates="loaded_at = now()"
        )
    assert unchanged == 1
    rows = warehouse.execute("SELECT id, v, loaded_at IS NOT NULL FROM raw.t_upsert ORDER BY id").fetchall()
    assert rows == [(1, "c", False), (2, "x", True)]


def test_copy_upsert_insert_only_copies_straight_in_and_refuses_existing_keys(warehouse) -> None:
    warehouse.execute("CREATE TABLE IF NOT EXISTS raw.t_insert_only (id int PRIMARY KEY, v text)")
    with warehouse.transaction():
        assert (
            copy_upsert(warehouse, "raw.t_insert_only", ["id", "v"], [(1, "a"), (2, "b")], ["id"], insert_only=True)
            == 2
        )
    assert warehouse.execute("SELECT id, v FROM raw.t_insert_only ORDER BY id").fetchall() == [(1, "a"), (2, "b")]
    with pytest.raises(psycopg.errors.UniqueViolation), warehouse.transaction():
        copy_upsert(warehouse, "raw.t_insert_only", ["id", "v"], [(3, "c"), (2, "x")], ["id"], insert_only=True)
    assert warehouse.execute("SELECT id, v FROM raw.t_insert_only ORDER BY id").fetchall() == [(1, "a"), (2, "b")]


def test_010_namespaces_the_existing_deal_aliases_and_keys(scratch_db: str, tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in migration_files():
        if path.name < "010":
            (before / path.name).write_text(path.read_text())
    with psycopg.connect(scratch_db) as conn:
        apply_migrations(conn, before)
        conn.execute(
            "INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id) VALUES "
            "('6', '6', 'self', 6), ('1006', '6', 'self', 1006), ('6-old', '6', 'legacy', 1006), "
            "('7', '7', 'self', 7), ('8', '7', 'merged', 7)"
        )
        conn.commit()
        apply_migrations(conn)
        rows = conn.execute("SELECT alias_id, stable_key, via FROM raw.hubspot_deal_ids ORDER BY 1").fetchall()
    assert rows == [
        ("hubspot:1006", "hubspot:6", "self"), ("hubspot:6", "hubspot:6", "self"), ("hubspot:7", "hubspot:7", "self"),
        ("hubspot:8", "hubspot:7", "merged"), ("legacy:6-old", "hubspot:6", "legacy"),
    ]  # fmt: skip


def test_060_dates_the_ledger_decisions_and_moves_them_only_when_state_or_reason_changes(
    scratch_db: str, tmp_path: Path
) -> None:
    """On a ledger the older sender wrote: sent at sent_at, failed / pending / in flight at their last attempt, a
    skip (rewritten run after run, its day unknown) on no day; then decided_at moves only with state or reason."""
    before = tmp_path / "before"
    before.mkdir()
    for path in migration_files():
        if path.name < "060":
            (before / path.name).write_text(path.read_text())
    with psycopg.connect(scratch_db) as conn:
        apply_migrations(conn, before)
        conn.autocommit = True
        conn.execute("SET TIME ZONE 'UTC'")
        for event_id, state, attempt, sent in [
            ("won_sent", "sent", "2025-06-01 10:00+00", "2025-06-01 10:00:01+00"),
            ("won_failed", "failed", "2025-06-02 10:00+00", None),
            ("won_pending", "pending", "2025-06-03 10:00+00", None),
            ("won_skipped", "skipped", None, None),
        ]:
            conn.execute(
                "INSERT INTO ops.capi_ledger (event_id, stable_key, deal_id, state, reason, last_attempt_at, sent_at, "
                "updated_at) VALUES (%s, %s, 1, %s, 'no_identifier', %s, %s, '2025-06-20 10:00+00')",
                (event_id, event_id, state, attempt, sent),
            )
        assert [name[:3] for name in apply_migrations(conn)][0] == "060"
        decided = dict(conn.execute("SELECT event_id, decided_at::text FROM ops.capi_ledger").fetchall())
        assert decided == {
            "won_sent": "2025-06-01 10:00:01+00",
            "won_failed": "2025-06-02 10:00:00+00",
            "won_pending": "2025-06-03 10:00:00+00",
            "won_skipped": None,
        }
        # rewritten unchanged: kept; a new reason, a new state, a new row: now
        conn.execute("UPDATE ops.capi_ledger SET state = state, reason = reason, updated_at = now()")
        conn.execute("UPDATE ops.capi_ledger SET reason = 'consent_denied' WHERE event_id = 'won_skipped'")
        conn.execute("UPDATE ops.capi_ledger SET state = 'in_flight' WHERE event_id = 'won_pending'")
        conn.execute(
            "INSERT INTO ops.capi_ledger (event_id, stable_key, deal_id, event_kind, state) "
            "VALUES ('won_new', 'n', 1, 'checkout', 'sent')"
        )
        moved = conn.execute(
            "SELECT array_agg(event_id ORDER BY event_id) FROM ops.capi_ledger "
            "WHERE decided_at > now() - interval '1 minute'"
        ).fetchone()[0]
    assert moved == ["won_new", "won_pending", "won_skipped"]
