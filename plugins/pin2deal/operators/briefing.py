"""Operators of the ``daily_briefing`` DAG: write the day's briefing, then show and (optionally) deliver it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, Context

from pin2deal.briefing.rewrite import chat_answer, chat_request
from pin2deal.briefing.rules import BriefingSettings, markdown_to_slack
from pin2deal.hooks.llm import ChatCompletionsHook
from pin2deal.hooks.slack_webhook import SlackWebhookHook
from pin2deal.hooks.warehouse import WarehouseHook

# The marts and ledgers the briefing reads (include/sql/briefing/), for its lineage.
BRIEFING_INPUTS = (
    "mart.performance", "mart.channel_performance", "mart.truth_vs_platform", "mart.deal_attribution",
    "ops.capi_ledger", "raw.pinterest_ad_daily", "raw.hubspot_deals",
)  # fmt: skip


class DailyBriefingOperator(BaseOperator):
    """Render the briefing of the run's day from the marts: Markdown and chart files under ``output_dir``, one row
    of ``ops.briefings`` (a re-run replaces the day), and the text in XCom (it is a few kilobytes).

    The day is the last account day that had ended at the run's logical date, or at the moment the run was created
    for runs without one (Asset-triggered, manual); see ``pin2deal.briefing.pipeline.briefing_day``.
    """

    template_fields: Sequence[str] = ("output_dir", "settings", "llm_conn_id", "warehouse_conn_id")
    ui_color = "#e60023"

    def __init__(
        self,
        *,
        output_dir: str | None = None,
        settings: dict[str, Any] | None = None,
        llm_conn_id: str | None = None,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.output_dir = output_dir
        self.settings = settings or {}
        self.llm_conn_id = llm_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The marts into the day's row of ops.briefings and its files (pin2deal.lineage)."""
        from pin2deal import lineage
        from pin2deal.briefing.pipeline import default_output_dir

        return lineage.operator_lineage(
            inputs=lineage.warehouse(self.warehouse_conn_id, *BRIEFING_INPUTS),
            outputs=[
                *lineage.warehouse(self.warehouse_conn_id, "ops.briefings"),
                *lineage.files(str(self.output_dir or default_output_dir())),
            ],
        )

    def rewriter(self) -> Callable[[str], str | None] | None:
        """The language-model rewrite through ``llm_conn_id`` (an OpenAI-compatible API), or None: off."""
        conn_id = (self.llm_conn_id or "").strip()
        if not conn_id:
            return None
        hook = ChatCompletionsHook(conn_id)
        return lambda markdown: chat_answer(hook.complete(chat_request(markdown)))

    def execute(self, context: Context) -> dict[str, Any]:
        # pandas and matplotlib load in the task, never when the scheduler parses the DAG file
        from pin2deal.briefing.pipeline import build_briefing, default_output_dir, summary

        settings = BriefingSettings.from_mapping(self.settings)
        output_dir = Path(self.output_dir) if self.output_dir else default_output_dir()
        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            conn.autocommit = True
            result = build_briefing(
                conn,
                logical_date=context.get("logical_date"),
                run_after=context["dag_run"].run_after,
                output_dir=output_dir,
                settings=settings,
                run_id=context["run_id"],
                rewriter=self.rewriter(),
            )
        briefing, files = result.briefing, result.files
        if result.rewrite is not None:
            if result.rewrite.accepted:
                self.log.info("Language-model rewrite accepted: %s", result.rewrite.reason)
            else:
                self.log.warning(
                    "Language-model rewrite refused, the template's text is kept: %s", result.rewrite.reason
                )
        self.log.info(
            "Briefing for %s%s: %s (chart %s)",
            briefing.day,
            " (STALE DATA)" if briefing.stale else "",
            files.markdown,
            files.png,
        )
        return summary(result)


class BriefingDeliveryOperator(BaseOperator):
    """Show the briefing in the Airflow UI (its ``markdown`` field is rendered as Markdown in the task's Rendered
    Template view) and post it to a Slack incoming webhook when ``slack_conn_id`` is set (off by default).

    Asset-triggered runs refresh the stored briefing after each reconcile but never post: Slack gets the scheduled
    (morning) run and manual runs, so a day is not announced once per reconcile.
    """

    template_fields: Sequence[str] = ("markdown", "briefing_date", "slack_conn_id", "warehouse_conn_id")
    template_fields_renderers = {"markdown": "md"}
    ui_color = "#4a154b"

    def __init__(
        self,
        *,
        markdown: str,
        briefing_date: str,
        slack_conn_id: str | None = None,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.markdown = markdown
        self.briefing_date = briefing_date
        self.slack_conn_id = slack_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Marks the day's briefing delivered when Slack got it (pin2deal.lineage)."""
        from pin2deal import lineage

        if not (self.slack_conn_id or "").strip():
            return lineage.operator_lineage()
        return lineage.operator_lineage(outputs=lineage.warehouse(self.warehouse_conn_id, "ops.briefings"))

    def execute(self, context: Context) -> dict[str, Any]:
        conn_id = (self.slack_conn_id or "").strip()
        if not conn_id:
            self.log.info("Slack delivery is off (no slack_conn_id); the briefing is in ops.briefings and the files")
            return {"delivered": False, "reason": "off"}
        if context["dag_run"].run_type == "asset_triggered":
            self.log.info("Asset-triggered run: the stored briefing is refreshed, Slack gets the scheduled one")
            return {"delivered": False, "reason": "asset_triggered"}
        from pin2deal.briefing.pipeline import mark_delivered

        day = dt.date.fromisoformat(self.briefing_date)
        SlackWebhookHook(conn_id).post_text(markdown_to_slack(self.markdown))
        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            conn.autocommit = True
            mark_delivered(conn, day, f"slack:{conn_id}")
        self.log.info("Posted the briefing for %s to Slack (connection %s)", day, conn_id)
        return {"delivered": True, "to": f"slack:{conn_id}"}
