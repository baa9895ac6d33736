"""``PinterestConversionsOperator``: deliver the Conversions API outbox, once per lineage and event kind
(``pin2deal.capi.send``); ``PinterestEventQualityOperator``: read Pinterest's Event Quality Score of those events
(``pin2deal.capi.quality``).

Thin by design: each turns its (templated) arguments into settings, opens the warehouse and the Pinterest hook,
and returns its stage's summary (counts only) as its XCom.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator, Context

from pin2deal.capi.payload import (
    MAX_EVENTS_PER_REQUEST,
    PINTEREST_MAX_EVENT_AGE_DAYS,
    CapiSettings,
    KindSettings,
)
from pin2deal.capi.quality import read_event_quality
from pin2deal.capi.send import ConversionsSender, Selection, check_stage_events
from pin2deal.hooks.pinterest import PinterestAdsHook, PinterestConversionsHook
from pin2deal.hooks.warehouse import WarehouseHook
from pin2deal.normalize import parse_bool, parse_timestamp


def _flag(value: bool | str | None) -> bool:
    return value if isinstance(value, bool) else bool(parse_bool(str(value)) if value is not None else False)


def _moment(value: dt.datetime | str | None) -> dt.datetime | None:
    return value if isinstance(value, dt.datetime) else parse_timestamp(value or None)


def _names(value: Sequence[str] | str | None) -> list[str]:
    """A list of names from a list, a JSON list or a comma-separated string (a rendered param)."""
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split(",")
    return [name.strip() for name in value or () if name.strip()]


def _kind_settings(kind: str, own: Mapping[str, Any]) -> KindSettings:
    unknown = sorted(set(own) - {"enabled", "channels", "max_event_age_days"})
    if unknown:
        raise ValueError(f"event_kinds.{kind}: unknown settings {unknown} (enabled, channels, max_event_age_days)")
    channels, age = own.get("channels"), own.get("max_event_age_days")
    return KindSettings(
        enabled=_flag(own.get("enabled", True)),
        channels=tuple(_names(channels)) if channels is not None else None,
        max_event_age_days=float(age) if age is not None else None,
    )


class PinterestConversionsOperator(BaseOperator):
    """Send the events of ``ops.capi_outbox`` (a ``lead`` per deal, a ``checkout`` per won deal, an event per entry
    into a mapped stage, once per lineage) to Pinterest and record each in ``ops.capi_ledger``.

    :param won_after: only events that happened at or after this instant (a checkout's won time, a lead's lead
        moment; open events, whose outcome is unknown, always go)
    :param won_before: only events that happened before this instant
    :param dry_run: build and validate every event, record it as skipped ``dry_run``, send nothing
    :param test_mode: send with ``?test=true`` (Pinterest records nothing); record its verdict as ``test_mode``
    :param channels: mart channels sent (``pinterest_paid``; add ``pinterest_organic``/``unknown`` to send them)
    :param event_kinds: per kind (``lead``, ``checkout``, ``stage:<stage id>``), ``{"enabled": bool, "channels":
        [...], "max_event_age_days": days}``, each key optional (left out: sent, with the run-wide settings)
    :param stage_events: HubSpot stage id -> Pinterest event name (e.g. ``{"demoscheduled": "signup"}``): the
        lineage's first entry into the stage is sent once as that event (kind ``stage:<stage id>``); none by default.
        The same mapping must be given to the ``fill_capi_outbox`` task
    :param enable_event_kinds: kinds this run sends even when switched off in ``event_kinds`` (a manual run's param)
    :param action_source: ``offline`` (CRM deals), or ``web``/``app_android``/``app_ios``
    :param max_event_age_days: events older than this by the API's clock are skipped ``too_old`` (Pinterest: 7)
    :param consent_source: whose ads consent counts: ``deal``, ``contact``, ``deal_and_contact`` or ``ignore``
    :param consent_denied: ``suppress`` (skip, recorded) or ``opt_out`` (send with ``opt_out: true``)
    :param default_region: region for national phone numbers whose contact has no recognisable country
    :param batch_size: events per request (at most 1,000)
    :param request_timeout: seconds an attempt waits for Pinterest's answer before it counts as unanswered
    """

    template_fields: Sequence[str] = (
        "won_after",
        "won_before",
        "dry_run",
        "test_mode",
        "channels",
        "enable_event_kinds",
        "pinterest_conn_id",
        "warehouse_conn_id",
    )
    ui_color = "#e60023"

    def __init__(
        self,
        *,
        won_after: dt.datetime | str | None = None,
        won_before: dt.datetime | str | None = None,
        dry_run: bool | str = False,
        test_mode: bool | str = False,
        channels: Sequence[str] = ("pinterest_paid",),
        event_kinds: Mapping[str, Mapping[str, Any]] | None = None,
        stage_events: Mapping[str, str] | None = None,
        enable_event_kinds: Sequence[str] | str = (),
        action_source: str = "offline",
        max_event_age_days: float = PINTEREST_MAX_EVENT_AGE_DAYS,
        consent_source: str = "deal_and_contact",
        consent_denied: str = "suppress",
        default_region: str = "US",
        batch_size: int = MAX_EVENTS_PER_REQUEST,
        request_timeout: float = 60.0,
        pinterest_conn_id: str = PinterestConversionsHook.default_conn_name,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.won_after, self.won_before = won_after, won_before
        self.dry_run, self.test_mode = dry_run, test_mode
        self.channels = channels
        self.event_kinds = dict(event_kinds or {})
        self.stage_events = dict(stage_events or {})
        self.enable_event_kinds = enable_event_kinds
        self.action_source = action_source
        self.max_event_age_days = max_event_age_days
        self.consent_source, self.consent_denied = consent_source, consent_denied
        self.default_region = default_region
        self.batch_size = batch_size
        self.request_timeout = request_timeout
        self.pinterest_conn_id = pinterest_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def settings(self) -> CapiSettings:
        return CapiSettings(
            channels=tuple(_names(self.channels)),
            action_source=self.action_source,
            max_event_age_days=float(self.max_event_age_days),
            consent_source=self.consent_source,
            consent_denied=self.consent_denied,
            default_region=self.default_region,
            batch_size=int(self.batch_size),
            kinds={kind: _kind_settings(kind, own) for kind, own in self.event_kinds.items()},
            stage_events=self.stage_events,
        )

    def kinds_to_send(self, settings: CapiSettings) -> tuple[str, ...]:
        """The kinds enabled in the settings and those this run turns on."""
        turned_on = _names(self.enable_event_kinds)
        unknown = sorted(set(turned_on) - set(settings.all_kinds))
        if unknown:
            raise ValueError(f"enable_event_kinds: {unknown} are not event kinds ({list(settings.all_kinds)})")
        return tuple(kind for kind in settings.all_kinds if kind in settings.enabled_kinds or kind in turned_on)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The outbox to Pinterest's Conversions API, each decision into the ledger (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.warehouse(self.warehouse_conn_id, "ops.capi_outbox"),
            outputs=[
                *lineage.pinterest(self.pinterest_conn_id, "events"),
                *lineage.warehouse(self.warehouse_conn_id, "ops.capi_ledger"),
            ],
        )

    def execute(self, context: Context) -> dict[str, Any]:
        settings = self.settings()
        selection = Selection(self.kinds_to_send(settings), _moment(self.won_after), _moment(self.won_before))
        hook = PinterestConversionsHook(self.pinterest_conn_id, timeout=float(self.request_timeout))
        warehouse = WarehouseHook(self.warehouse_conn_id)
        with warehouse.get_conn() as writer, warehouse.get_conn() as reader:
            writer.autocommit = True
            check_stage_events(writer, settings.stage_events)
            sender = ConversionsSender(
                reader,
                writer,
                hook,
                settings,
                run_id=context["run_id"],
                selection=selection,
                dry_run=_flag(self.dry_run),
                test_mode=_flag(self.test_mode),
            )
            summary = sender.run().as_dict()
        self.log.info("Conversions API: %s", summary)
        return summary


class PinterestEventQualityOperator(BaseOperator):
    """Read Pinterest's Event Quality Score of the account's conversion events into
    ``raw.pinterest_event_quality`` (``pin2deal.capi.quality``): one read per account and UTC day, a re-run replaces
    it. Returns counts and the overall statuses (XCom).

    :param lookback_period: the events of the last ``14d`` (default) or ``1d`` before the read
    :param pinterest_conn_id: an Ads connection with the ``ads:read`` scope (the conversion token cannot read it)
    """

    template_fields: Sequence[str] = ("lookback_period", "pinterest_conn_id", "warehouse_conn_id")
    ui_color = "#e60023"

    def __init__(
        self,
        *,
        lookback_period: str = "14d",
        pinterest_conn_id: str = PinterestAdsHook.default_conn_name,
        warehouse_conn_id: str = WarehouseHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lookback_period = lookback_period
        self.pinterest_conn_id = pinterest_conn_id
        self.warehouse_conn_id = warehouse_conn_id

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The ad account's score to the event quality tables (pin2deal.lineage)."""
        from pin2deal import lineage

        return lineage.operator_lineage(
            inputs=lineage.pinterest(self.pinterest_conn_id, "conversion_eqs"),
            outputs=lineage.warehouse(
                self.warehouse_conn_id,
                "raw.pinterest_event_quality",
                "raw.pinterest_event_quality_keys",
                "ops.record_issues",
            ),
        )

    def execute(self, context: Context) -> dict[str, Any]:
        hook = PinterestAdsHook(self.pinterest_conn_id)
        with WarehouseHook(self.warehouse_conn_id).get_conn() as conn:
            conn.autocommit = True
            summary = read_event_quality(hook, conn, str(self.lookback_period), run_id=context["run_id"])
        self.log.info("Event quality: %s", summary)
        return summary
