"""``HubSpotDealsToWarehouseOperator``: one data interval of HubSpot deals (and their contacts) into ``raw``."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator


def _as_datetime(value: Any, name: str) -> dt.datetime | None:
    """A UTC datetime, or None for a run without a data interval (rendered as None, "None" or "")."""
    if value in (None, "", "None"):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, str):
        moment = dt.datetime.fromisoformat(value)
    else:
        raise ValueError(f"{name} must be a datetime or an ISO-8601 string, got {value!r}")
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    return dt.datetime.fromisoformat(moment.isoformat())  # a plain datetime, also when Airflow passed a pendulum one


def _run_type(value: Any) -> str:
    """``scheduled``, ``manual``, ``backfill``, ``asset_triggered``: a DagRunType or its string."""
    return str(getattr(value, "value", value) or "manual").strip().lower()


def _as_date(value: Any) -> dt.date | None:
    if value in (None, "", "None"):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", "", "none"):
        return False
    raise ValueError(f"full_refresh must be true or false, got {value!r}")


# The raw tables a deal batch is loaded into (pin2deal.hubspot.extract), for the lineage.
RAW_TABLES = ("raw.hubspot_deals", "raw.hubspot_contacts", "raw.hubspot_deal_contacts", "raw.hubspot_deal_ids")


class HubSpotDealsToWarehouseOperator(BaseOperator):
    """Extract the deals modified since the high-water mark (or in exactly its data interval for a backfill, since
    ``since``, or all of them with ``full_refresh``) with their contacts and the pipeline stages, into the
    ``raw.hubspot_*`` tables. Which window a run reads: ``pin2deal.hubspot.window``.

    Works with or without a data interval (a manual trigger without a logical date has none). Resumes from its
    watermark when a previous attempt for the same window stopped midway; a completed window is re-read from its
    start (a re-run rewrites only rows that changed). Returns counts only (XCom).
    """

    template_fields: Sequence[str] = (
        "data_interval_start", "data_interval_end", "full_refresh", "since", "run_type", "run_after",
        "max_deleted_share",
    )  # fmt: skip
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        # From dag_run: a run without a data interval (a manual trigger without a logical date) has no
        # `data_interval_start` in its context at all, only a dag_run whose interval is None.
        data_interval_start: Any = "{{ dag_run.data_interval_start }}",
        data_interval_end: Any = "{{ dag_run.data_interval_end }}",
        full_refresh: Any = "{{ params.full_refresh }}",
        since: Any = "{{ params.since }}",
        run_type: Any = "{{ dag_run.run_type }}",
        run_after: Any = "{{ dag_run.run_after }}",
        max_deleted_share: Any = 0.2,
        hubspot_conn_id: str = "hubspot_default",
        warehouse_conn_id: str = "pin2deal_warehouse",
        batch_size: int = 1000,
        overlap: dt.timedelta = dt.timedelta(minutes=10),
        search_index_lag: dt.timedelta = dt.timedelta(seconds=30),
        max_lag_wait: dt.timedelta = dt.timedelta(minutes=10),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_interval_start = data_interval_start
        self.data_interval_end = data_interval_end
        self.full_refresh = full_refresh
        self.since = since
        self.run_type = run_type
        self.run_after = run_after
        self.max_deleted_share = max_deleted_share
        self.hubspot_conn_id = hubspot_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.batch_size = batch_size
        self.overlap = overlap
        self.search_index_lag = search_index_lag
        self.max_lag_wait = max_lag_wait

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The portal's deals, contacts and deal pipelines into raw (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.hubspot(self.hubspot_conn_id, "deals", "contacts", "pipelines/deals"),
            outputs=lineage.warehouse(self.warehouse_conn_id, *RAW_TABLES, "raw.hubspot_pipeline_stages"),
        )

    def execute(self, context: Any) -> dict[str, Any]:
        # Imported here, not at DAG parse: the HubSpot client and the loaders are heavy.
        from pin2deal.hooks.hubspot_api import HubSpotHook
        from pin2deal.hooks.warehouse import WarehouseHook
        from pin2deal.hubspot.extract import (
            BatchEnricher,
            DealBatchLoader,
            advance_mark,
            initial_search_position,
            listed_deal_batches,
            load_stages,
            modified_deal_batches,
            read_mark,
            read_watermark,
            run_pipeline,
            save_watermark,
        )
        from pin2deal.hubspot.records import DealTyping
        from pin2deal.hubspot.sweep import sweep_deleted_deals
        from pin2deal.hubspot.window import read_window

        run_id = str(context["run_id"])
        interval_start = _as_datetime(self.data_interval_start, "data_interval_start")
        interval_end = _as_datetime(self.data_interval_end, "data_interval_end")
        run_after = _as_datetime(self.run_after, "run_after") or dt.datetime.now(dt.UTC)
        full_refresh, since = _as_bool(self.full_refresh), _as_date(self.since)

        hubspot = HubSpotHook(self.hubspot_conn_id)
        custom = hubspot.check_custom_properties()
        stages = hubspot.deal_stages()
        typing = DealTyping.for_portal(custom, stages)
        properties = typing.deal_properties

        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            conn.autocommit = True  # every conn.transaction() below is a real, committed transaction
            load_stages(conn, stages)
            mark = read_mark(conn)
            if full_refresh:
                # Listing reads every deal as it is when its page is read: a deal modified after the run was
                # triggered is either read fresh or has a modified date after run_after, the mark it leaves.
                window = None
                scope, initial, read_to = f"full_refresh/{run_id}", {"archived": False, "after": None}, run_after
            else:
                window = read_window(
                    run_type=_run_type(self.run_type), interval_start=interval_start, interval_end=interval_end,
                    run_after=run_after, since=since, mark=mark, overlap=self.overlap,
                    index_lag=self.search_index_lag,
                )
                self.log.info(
                    "Reading deals modified in [%s, %s) (%s)", window.start.isoformat(), window.end.isoformat(),
                    window.why,
                )
                scope, initial, read_to = window.scope, initial_search_position(window.start), window.end
                if window.empty:
                    self.log.info("Nothing to read: the mark %s is past this run's end", mark)
                    return {"scope": scope, "deals": 0, "stages": len(stages), "read_to": mark and mark.isoformat()}
                self._wait_for_search_index(window.end)
            position, completed = read_watermark(conn, scope)
            if position is None or completed or position.get("done"):
                position = initial
            else:
                self.log.info("Resuming %s from its watermark %s", scope, position)
            if full_refresh:
                batches = listed_deal_batches(hubspot, properties, position, batch_size=self.batch_size)
            else:
                batches = modified_deal_batches(hubspot, properties, window.end, position, batch_size=self.batch_size)
            enrich = BatchEnricher(hubspot, typing.contact_properties)
            load = DealBatchLoader(
                conn, hubspot, typing, scope=scope, run_id=run_id,
                default_phone_region=hubspot.settings.default_phone_region,
            )
            try:
                run_pipeline(batches, enrich, load)
            finally:
                enrich.close()
                self.log.info("HubSpot %s: loaded %s; API %s", scope, load.counts.as_dict(), dict(hubspot.stats))
            with conn.transaction():
                save_watermark(conn, scope, {"done": True}, run_id, completed=True)
                if window is None or window.advances_mark:
                    mark = advance_mark(conn, read_to, run_id)
            sweep = {}
            if full_refresh:
                # A full listing knows every deal HubSpot has: the ones it no longer has (a migration's old ids)
                # are marked deleted and their successors take over their lineage's keys before any reconcile.
                _, sweep = sweep_deleted_deals(
                    conn, hubspot, run_id=run_id, max_deleted_share=float(self.max_deleted_share)
                )
                self.log.info("Deletion sweep after the full refresh: %s", sweep)
        return {
            "scope": scope,
            **load.counts.as_dict(),
            "sweep": sweep,
            "stages": len(stages),
            "read_to": mark and mark.isoformat(),  # the high-water mark after this run
            "api": dict(hubspot.stats),  # requests.<kind>, rate_limited (429s, all retried), server_errors, ...
        }

    def _wait_for_search_index(self, end: dt.datetime) -> None:
        """HubSpot's search index lags a few seconds: do not read an interval before its end is indexed."""
        wait = (end + self.search_index_lag - dt.datetime.now(dt.UTC)).total_seconds()
        if wait <= 0:
            return
        if wait > self.max_lag_wait.total_seconds():
            raise ValueError(f"interval ends {end.isoformat()}, in the future: run it after it has ended")
        self.log.info("Waiting %.0f s for HubSpot's search index to catch up with %s", wait, end.isoformat())
        time.sleep(wait)
