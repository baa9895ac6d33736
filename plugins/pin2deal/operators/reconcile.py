"""Operators of ``attribution_reconcile`` around its SQL steps: the plan (full or incremental), the CSV drop of other
channels' spend, warning checks, and the run's record. Thin: the logic is in ``pin2deal.reconcile`` and the SQL."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.providers.common.sql.operators.sql import BaseSQLOperator, SQLExecuteQueryOperator
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException
from psycopg import errors

from pin2deal.hooks.warehouse import WarehouseHook
from pin2deal.reconcile.generations import drop_unread_generations
from pin2deal.reconcile.plan import finish_reconcile, load_channel_spend_files, plan_reconcile
from pin2deal.reconcile.steps import split_statements

WAREHOUSE = "pin2deal_warehouse"
SAMPLE_ROWS = 20
RUNS = "ops.reconcile_runs"
# The raw tables whose changes since the last finished run the plan reads.
PLAN_INPUTS = ("raw.hubspot_deals", "raw.pinterest_ad_daily", "raw.channel_spend")


def _as_bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")


class ReconcilePlanOperator(BaseOperator):
    """Decide whether this run rebuilds the marts or applies what changed in raw since the last finished run.

    Never reads a data interval (asset-triggered and manual runs have none). Returns ``{"mode", "reason", "since",
    "generation"}``, which the SQL steps read through XCom. Generations of the marts nobody reads any more are
    dropped first."""

    template_fields: Sequence[str] = ("full_rebuild", "home_currency")

    def __init__(
        self,
        *,
        full_rebuild: Any = "{{ params.full_rebuild }}",
        home_currency: str = "{{ params.home_currency }}",
        warehouse_conn_id: str = WAREHOUSE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.full_rebuild = full_rebuild
        self.home_currency = home_currency
        self.warehouse_conn_id = warehouse_conn_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """What raw received since the last run decides the plan, recorded in the runs (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.warehouse(self.warehouse_conn_id, *PLAN_INPUTS),
            outputs=lineage.warehouse(self.warehouse_conn_id, RUNS),
        )

    def execute(self, context: Any) -> dict[str, Any]:
        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            conn.autocommit = True
            drop_unread_generations(conn)
            conn.autocommit = False
            return plan_reconcile(
                conn, context["run_id"], full_rebuild=_as_bool(self.full_rebuild), home_currency=self.home_currency
            )


class ReconcileFinishOperator(BaseOperator):
    """Record the run as finished with the warning checks' counts, and drop the generation its publication replaced
    once nobody reads it; returns the run's summary (and the warnings)."""

    template_fields: Sequence[str] = ()

    def __init__(self, *, warning_checks: Sequence[str], warehouse_conn_id: str = WAREHOUSE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.warning_checks = list(warning_checks)
        self.warehouse_conn_id = warehouse_conn_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from pin2deal import lineage

        return lineage.operator_lineage(outputs=lineage.warehouse(self.warehouse_conn_id, RUNS))

    def execute(self, context: Any) -> dict[str, Any]:
        results = context["ti"].xcom_pull(task_ids=self.warning_checks)
        checks = [result for result in results if result]
        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            summary = finish_reconcile(conn, context["run_id"], checks)
            conn.commit()
            conn.autocommit = True
            drop_unread_generations(conn)
        self.log.info("Reconcile summary: %s", summary)
        return summary


class ChannelSpendCsvOperator(BaseOperator):
    """Load every new CSV file of other channels' spend from ``folder`` into ``raw.channel_spend``.

    A file is recognised by its content hash: loaded once, never again (renamed or re-dropped). Bad lines are
    reported in ``ops.record_issues`` (source ``channel_spend.csv``, record ``<file>:<line>``) and never stop the
    good ones. Returns counts."""

    template_fields: Sequence[str] = ("folder",)

    def __init__(self, *, folder: str, warehouse_conn_id: str = WAREHOUSE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.folder = folder
        self.warehouse_conn_id = warehouse_conn_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The dropped CSV files into raw, bad lines into the record issues (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.files(self.folder),
            outputs=lineage.warehouse(
                self.warehouse_conn_id, "raw.channel_spend", "ops.channel_spend_files", "ops.record_issues"
            ),
        )

    def execute(self, context: Any) -> dict[str, int]:
        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            conn.autocommit = True
            totals = load_channel_spend_files(conn, Path(self.folder), context["run_id"])
        self.log.info("Channel spend from %s: %s", self.folder, totals)
        return totals


class ReconcileStepOperator(SQLExecuteQueryOperator):
    """A reconcile step: one SQL file, its statements (``pin2deal.reconcile.steps``) in one transaction. A guard of
    the file failing (``ops.require``: a blocking check, staged spend gone) or a row breaking a mart's constraints or
    keys fails the task at once: it would fail again on every retry, until the data or a task changes; any other
    error (a dropped connection, a restart) is retried.

    Its lineage is the tables it declares, ``reads`` and ``writes`` (``schema.table``), not what OpenLineage's SQL
    parser makes of the file: it names the rule views and the temp tables, not the raw tables behind them
    (``reconcile_deals`` read ``mart.counted_deals``, not ``raw.hubspot_deals``), and drops what it cannot read
    (``reconcile_spend`` read nothing), so the graph stopped between raw and the marts. A SQL operator's
    ``inlets``/``outlets`` count only when the parser finds nothing, hence the override. ``reads``: the tables whose
    rows the step reads that other tasks write, those behind the rule views included; ``writes``: the tables it
    writes (staging tables it empties included). A table read only for its own previous rows, the temp tables, and
    the run's plan (``ops.reconcile_runs``) are not named."""

    def __init__(self, *, reads: Sequence[str], writes: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.reads = tuple(reads)
        self.writes = tuple(writes)

    def execute(self, context: Any) -> Any:
        self.sql, self.split_statements = split_statements(self.sql), False
        try:
            return super().execute(context)
        except (errors.RaiseException, errors.CheckViolation, errors.UniqueViolation) as error:
            raise AirflowFailException(str(error).strip()) from error  # the message, its detail (the row) and hint

    def get_openlineage_facets_on_start(self) -> Any:
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.warehouse(self.conn_id, *self.reads), outputs=lineage.warehouse(self.conn_id, *self.writes)
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return self.get_openlineage_facets_on_start()


class SQLWarningCheckOperator(BaseSQLOperator):
    """A data-quality check whose findings do not stop the run: the query returns one row per offending record
    (its key first); they are logged, and the count is returned for the run's summary."""

    template_fields: Sequence[str] = ("sql", "parameters", *BaseSQLOperator.template_fields)
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}
    ui_color = "#fff3c4"

    def __init__(self, *, sql: str, parameters: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.parameters = parameters

    def execute(self, context: Any) -> dict[str, Any]:
        rows = self.get_db_hook().get_records(self.sql, self.parameters)
        sample = [" ".join(str(value) for value in row) for row in rows[:SAMPLE_ROWS]]
        if rows:
            self.log.warning("%s: %d offending rows, first: %s", self.task_id, len(rows), sample[0])
            self.log.info("Offending rows (first %d):\n%s", len(sample), "\n".join(sample))
        else:
            self.log.info("%s: no offending rows", self.task_id)
        return {"check": self.task_id, "count": len(rows), "sample": sample}
