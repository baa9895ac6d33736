"""The warehouse: ordered, exactly-once migrations and set-based COPY + upsert loads on PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from airflow.providers.postgres.hooks.postgres import PostgresHook
from psycopg import Connection, sql
from psycopg.errors import Error as PostgresError

from pin2deal.paths import SCHEMA_DIR

MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# pg_advisory_lock key shared by every migration runner ("pin2deal" in ASCII, as a bigint).
MIGRATION_LOCK_KEY = 0x70696E326465616C


class MigrationError(RuntimeError):
    """A migration failed; the message names the file and carries PostgreSQL's error."""


def migration_files(directory: Path = SCHEMA_DIR) -> list[Path]:
    files = sorted(path for path in directory.glob("*.sql"))
    for path in files:
        if not MIGRATION_NAME.match(path.name):
            raise MigrationError(f"{path.name}: migration files are named NNN_lower_snake.sql")
    versions = [path.name[:3] for path in files]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number in {directory}")
    return files


def apply_migrations(conn: Connection, directory: Path = SCHEMA_DIR) -> list[str]:
    """Apply every migration not yet recorded in ``ops.schema_migrations``, in order, each in its own transaction.

    A session-level advisory lock serialises concurrent runners, so two processes starting at once apply each
    file exactly once. A failing file is rolled back whole and raises ``MigrationError`` naming it.
    """
    applied: list[str] = []
    conn.autocommit = True
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
    try:
        conn.autocommit = False
        with conn.transaction():
            conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
            conn.execute(
                """CREATE TABLE IF NOT EXISTS ops.schema_migrations (
                       version text PRIMARY KEY,
                       filename text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
        done = dict(conn.execute("SELECT version, checksum FROM ops.schema_migrations").fetchall())
        conn.commit()
        for path in migration_files(directory):
            text = path.read_text(encoding="utf-8")
            checksum = hashlib.sha256(text.encode()).hexdigest()
            version = path.name[:3]
            if version in done:
                if done[version] != checksum:
                    raise MigrationError(f"{path.name}: changed after it was applied; add a new migration instead")
                continue
            try:
                with conn.transaction():
                    conn.execute(text)
                    conn.execute(
                        "INSERT INTO ops.schema_migrations (version, filename, checksum) VALUES (%s, %s, %s)",
                        (version, path.name, checksum),
                    )
            except PostgresError as error:
                raise MigrationError(f"{path.name}: {type(error).__name__}: {error}".strip()) from error
            applied.append(path.name)
        conn.commit()
    finally:
        conn.rollback()
        conn.autocommit = True
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied


def copy_upsert(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    key: Sequence[str],
    *,
    extra_updates: str = "",
    insert_only: bool = False,
) -> int:
    """COPY ``rows`` into a staging table and merge them into ``table`` in one ``INSERT ... ON CONFLICT``.

    Runs inside the caller's transaction, so a page and its watermark commit together. A key seen twice in
    ``rows`` keeps its last version; a row whose columns are unchanged is not rewritten (re-runs change
    nothing). ``extra_updates`` adds SQL assignments applied only to changed rows (e.g. ``loaded_at = now()``).
    ``insert_only`` is for a caller that has established, in this transaction, that none of the keys exist and
    that ``rows`` repeats none (e.g. a first load of a scope it counted empty): the rows are COPYed straight into
    ``table`` in one pass, and a key that does exist fails the load instead of being merged.
    Returns the number of rows inserted or changed.
    """
    schema, name = table.split(".")
    target = sql.Identifier(schema, name)
    stage = sql.Identifier(f"stage_{schema}_{name}")
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    keys = sql.SQL(", ").join(map(sql.Identifier, key))
    updates = [column for column in columns if column not in key]
    if insert_only:
        copied = 0
        with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(target, cols)) as copy:
            for row in rows:
                copy.write_row(row)
                copied += 1
        return copied
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            ).format(stage=stage, target=target)
        )
        cur.execute(sql.SQL("ALTER TABLE {stage} ADD COLUMN IF NOT EXISTS _ordinal bigserial").format(stage=stage))
        with cur.copy(sql.SQL("COPY {stage} ({cols}) FROM STDIN").format(stage=stage, cols=cols)) as copy:
            for row in rows:
                copy.write_row(row)
        if updates:
            assignments = [
                sql.SQL("{col} = EXCLUDED.{col}").format(col=sql.Identifier(column)) for column in updates
            ]
            if extra_updates:
                assignments.append(sql.SQL(extra_updates))
            on_conflict = sql.SQL("DO UPDATE SET {set} WHERE ({old}) IS DISTINCT FROM ({new})").format(
                set=sql.SQL(", ").join(assignments),
                old=sql.SQL(", ").join(sql.Identifier(name, column) for column in updates),
                new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(column)) for column in updates),
            )
        else:
            on_conflict = sql.SQL("DO NOTHING")
        cur.execute(
            sql.SQL(
                "INSERT INTO {target} AS {alias} ({cols}) "
                "SELECT DISTINCT ON ({keys}) {cols} FROM {stage} ORDER BY {keys}, _ordinal DESC "
                "ON CONFLICT ({keys}) {on_conflict}"
            ).format(
                target=target, alias=sql.Identifier(name), cols=cols, keys=keys, stage=stage, on_conflict=on_conflict
            )
        )
        changed = cur.rowcount
        cur.execute(sql.SQL("TRUNCATE {stage}").format(stage=stage))
    return changed


class WarehouseHook(PostgresHook):
    """``PostgresHook`` on the ``pin2deal_warehouse`` connection, plus the project's migration entry point."""

    conn_name_attr = "postgres_conn_id"
    default_conn_name = "pin2deal_warehouse"

    def __init__(self, postgres_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(postgres_conn_id=postgres_conn_id, **kwargs)

    def migrate(self, directory: Path = SCHEMA_DIR) -> list[str]:
        """Bring the warehouse schema up to date; return the migrations applied now."""
        with self.get_conn() as conn:
            applied = apply_migrations(conn, directory)
        for filename in applied:
            self.log.info("Applied migration %s", filename)
        return applied


MAX_ISSUE_VALUE_CHARS = 200


def _shortened(raw: str | None) -> str | None:
    """An issue shows enough of the value to recognise it; a 10 MB paste stays in the raw table, not in ops."""
    if raw is None or len(raw) <= MAX_ISSUE_VALUE_CHARS:
        return raw
    return f"{raw[:MAX_ISSUE_VALUE_CHARS]}... ({len(raw)} characters)"


def replace_record_issues(
    conn: Connection,
    source: str,
    record_keys: Iterable[str],
    issues: Iterable[tuple[str, str, str, str | None]],
    run_id: str | None = None,
) -> int:
    """Make ``ops.record_issues`` say exactly ``issues`` (record_key, field, reason, raw_value) for these records.

    Called with every page loaded, so a record fixed at the source stops being reported on its next load.
    """
    keys = list(record_keys)
    rows = [(key, field, reason, _shortened(raw)) for key, field, reason, raw in issues]
    with conn.cursor() as cur:
        cur.execute("DELETE FROM ops.record_issues WHERE source = %s AND record_key = ANY(%s)", (source, keys))
        if rows:
            cur.executemany(
                "INSERT INTO ops.record_issues (source, record_key, field, reason, raw_value, run_id) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(source, key, field, reason, raw, run_id) for key, field, reason, raw in rows],
            )
    return len(rows)
