"""Tasks every pin2deal DAG shares."""

from __future__ import annotations

import datetime as dt

from airflow.sdk import task

from pin2deal.hooks.warehouse import WarehouseHook

MIGRATE_DOC = """
Applies the warehouse migrations (`include/sql/schema/NNN_*.sql`) not applied yet, in file-name order, each once
and checksummed (`ops.schema_migrations`); returns the ones applied now. Every DAG starts with it, so a deployment
never needs a manual DDL step.

**If it fails**: a checksum mismatch means a migration file was edited after it was applied (restore it; changes
go in a new file); a connection error means `pin2deal_warehouse` is wrong or PostgreSQL is down; a lock timeout
means another session holds a lock on the table (find it in `pg_stat_activity`). Then clear the task.
"""


# Short, fast retries: a migration waits on locks or a restarting database, not on an API.
@task(
    task_id="migrate_warehouse",
    retries=2,
    retry_delay=dt.timedelta(seconds=30),
    retry_exponential_backoff=2.0,
    max_retry_delay=dt.timedelta(minutes=5),
    execution_timeout=dt.timedelta(minutes=10),
    doc_md=MIGRATE_DOC,
)
def migrate_warehouse() -> list[str]:
    """Bring the warehouse schema up to date before a DAG touches it (never DDL at import)."""
    return WarehouseHook().migrate()


@task(task_id="fill_capi_outbox", multiple_outputs=False)
def fill_capi_outbox(stage_events: dict[str, str] | None = None) -> dict[str, int]:
    """Bring ``ops.capi_outbox`` up to date with the deals changed since the last fill (include/sql/capi/
    fill_outbox.sql), with the stage events of ``stage_events`` (the sender's mapping: stage id -> event name);
    returns the deals changed and the outbox rows awaiting a decision."""
    from pin2deal.capi.send import fill_outbox

    with WarehouseHook().get_conn() as conn:
        conn.autocommit = True
        return fill_outbox(conn, stage_events)
