"""Tasks every pin2deal DAG shares."""

from __future__ import annotations

from airflow.sdk import task

from pin2deal.hooks.warehouse import WarehouseHook


@task(task_id="migrate_warehouse", retries=2)
def migrate_warehouse() -> list[str]:
    """Bring the warehouse schema up to date before a DAG touches it (never DDL at import)."""
    return WarehouseHook().migrate()


@task(task_id="fill_capi_outbox")
def fill_capi_outbox() -> int:
    """Rebuild ``ops.capi_outbox`` from the reconciled deals (include/sql/capi/fill_outbox.sql); rows changed."""
    from pin2deal.capi_send import fill_outbox

    with WarehouseHook().get_conn() as conn:
        conn.autocommit = True
        return fill_outbox(conn)
