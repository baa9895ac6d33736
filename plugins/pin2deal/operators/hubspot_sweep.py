"""``HubSpotSweepOperator``: deletions, drift and contact changes the modified-date search never shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from pin2deal.operators.hubspot_deals import RAW_TABLES


class HubSpotSweepOperator(BaseOperator):
    """List every HubSpot deal id and mark what raw holds accordingly (``deleted_at``, archive flags, never a
    deleted row), load live deals raw lacks, and re-read the contacts modified since the last sweep.
    See ``pin2deal.hubspot.sweep``. Returns counts only (XCom)."""

    template_fields: Sequence[str] = ("max_deleted_share",)
    ui_color = "#ff7a59"

    def __init__(
        self,
        *,
        max_deleted_share: Any = "{{ params.max_deleted_share }}",
        hubspot_conn_id: str = "hubspot_default",
        warehouse_conn_id: str = "pin2deal_warehouse",
        batch_size: int = 1000,
        contacts_overlap: dt.timedelta = dt.timedelta(minutes=10),
        search_index_lag: dt.timedelta = dt.timedelta(seconds=30),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_deleted_share = max_deleted_share
        self.hubspot_conn_id = hubspot_conn_id
        self.warehouse_conn_id = warehouse_conn_id
        self.batch_size = batch_size
        self.contacts_overlap = contacts_overlap
        self.search_index_lag = search_index_lag

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The portal's deal ids and contacts against raw (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.hubspot(self.hubspot_conn_id, "deals", "contacts"),
            outputs=lineage.warehouse(self.warehouse_conn_id, *RAW_TABLES),
        )

    def execute(self, context: Any) -> dict[str, Any]:
        from pin2deal.hooks.hubspot_api import HubSpotHook
        from pin2deal.hooks.warehouse import WarehouseHook
        from pin2deal.hubspot.records import DealTyping
        from pin2deal.hubspot.sweep import (
            ReconcileCounts,
            load_missing_deals,
            refresh_contacts,
            sweep_deleted_deals,
        )

        run_id = str(context["run_id"])
        share = float(self.max_deleted_share)
        if not 0 <= share <= 1:
            raise ValueError(f"max_deleted_share must be between 0 and 1, got {share}")
        hubspot = HubSpotHook(self.hubspot_conn_id)
        typing = DealTyping.for_portal(hubspot.settings.custom_properties, hubspot.deal_stages())
        counts = ReconcileCounts()
        started = dt.datetime.now(dt.UTC)
        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            conn.autocommit = True
            active, verdict = sweep_deleted_deals(conn, hubspot, run_id=run_id, max_deleted_share=share)
            for name, value in verdict.items():
                setattr(counts, name, value)
            counts.missing_loaded = load_missing_deals(
                conn, hubspot, typing, [deal_id for deal_id, _, _ in active], run_id=run_id,
                batch_size=self.batch_size,
            )
            mark = refresh_contacts(
                conn, hubspot, typing, end=started - self.search_index_lag, overlap=self.contacts_overlap,
                run_id=run_id, counts=counts,
            )
        counts.api = dict(hubspot.stats)
        self.log.info("HubSpot sweep: %s; contacts read up to %s", counts.as_dict(), mark)
        return {**counts.as_dict(), "contacts_read_to": mark and mark.isoformat()}
