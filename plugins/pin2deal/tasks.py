"""Tasks every pin2deal DAG shares."""

from __future__ import annotations

from airflow.sdk import task

from pin2deal.hooks.warehouse import WarehouseHook


@task(task_id="migrate_warehouse", retries=2)
def migrate_warehouse() -> list[str]:
    """Bring the warehouse schema up to date before a DAG touches it (never DDL at import)."""
    return WarehouseHook().migrate()
