"""HubSpot deals and contacts as warehouse rows: strict typing, with every refused value reported, never dropped.

``deal_row``/``contact_row`` return the row for ``raw.hubspot_deals``/``raw.hubspot_contacts`` (column order
of ``DEAL_COLUMNS``/``CONTACT_COLUMNS``) and the issues found, as ``(record_key, field, reason, raw_value)`` for
``ops.record_issues``. A bad value leaves its typed column NULL; the raw string stays in ``properties``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from pin2deal.hooks.hubspot_api import CrmObject, DealStage
from pin2deal.normalize import (
    InvalidValue,
    blank,
    normalize_email,
    normalize_phone,
    parse_bool,
    parse_business_timestamp,
    parse_currency,
    parse_decimal,
    parse_id_list,
    parse_timestamp,
    phone_region,
    validate_epik,
)

Issue = tuple[str, str, str, str | None]
STAGE_ENTERED_PREFIX = "hs_v2_date_entered_"

# Standard deal properties every extraction reads (custom ones and stage entry dates are added per portal).
STANDARD_DEAL_PROPERTIES = (
    "amount",
    "deal_currency_code",
    "amount_in_home_currency",
    "closedate",
    "createdate",
    "hs_lastmodifieddate",
    "hs_object_id",
    "dealname",
    "dealstage",
    "pipeline",
    "hs_is_closed_won",
    "hs_analytics_source",
    "hs_analytics_source_data_1",
    "hs_analytics_source_data_2",
    "hs_merged_object_ids",
)
CONTACT_PROPERTIES = (
    "email",
    "phone",
    "mobilephone",
    "firstname",
    "lastname",
    "hs_additional_emails",
    "createdate",
    "lastmodifieddate",
    "country",  # the region national phone numbers are read in
)
# Roles whose value is copied to a text column of the same name (see DEFAULT_CUSTOM_PROPERTIES).
_TEXT_ROLES = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "pinterest_campaign_id",
    "pinterest_ad_group_id",
    "pinterest_ad_id",
    "ip_address",
    "user_agent",
    "legacy_deal_id",
)

DEAL_COLUMNS = (
    "deal_id", "properties", "amount", "amount_raw", "currency", "amount_in_home_currency",
    "created_at", "closed_at", "modified_at", "pipeline", "dealstage", "hs_is_closed_won", "stage_entered_at",
    "epik", "epik_raw", *_TEXT_ROLES[:7], "analytics_source", "analytics_source_data_1", "analytics_source_data_2",
    "ip_address", "user_agent", "ads_consent", "legacy_deal_id", "merged_object_ids", "archived", "archived_at",
    "hubspot_created_at", "hubspot_updated_at",
)  # fmt: skip
CONTACT_COLUMNS = (
    "contact_id", "properties", "email", "email_normalized", "phone", "mobilephone", "phone_e164", "first_name",
    "last_name", "ads_consent", "created_at", "modified_at", "archived", "hubspot_created_at", "hubspot_updated_at",
)  # fmt: skip
DEAL_CONTACT_COLUMNS = ("deal_id", "contact_id", "type_ids", "labels")
STAGE_COLUMNS = (
    "pipeline_id", "stage_id", "pipeline_label", "label", "display_order", "is_closed", "probability",
    "is_closed_won", "archived", "metadata",
)  # fmt: skip


@dataclass(frozen=True)
class DealTyping:
    """What typing a deal needs to know about the portal: custom property names and the pipeline stages.

    Every stage's entry date is read, not only the closed-won ones: which stage counts as won is decided in SQL
    from the current stage metadata, so a stage edited into closed-won later finds its entry dates loaded."""

    custom_properties: dict[str, str]  # role -> internal name (configured roles only)
    stage_ids: frozenset[str]

    @classmethod
    def for_portal(cls, custom_properties: dict[str, str], stages: Iterable[DealStage]) -> DealTyping:
        stage_ids = frozenset(stage.stage_id for stage in stages)
        return cls({role: name for role, name in custom_properties.items() if name}, stage_ids)

    @property
    def deal_properties(self) -> list[str]:
        """Every deal property to request: standard, custom, and every stage's entry date."""
        entered = sorted(f"{STAGE_ENTERED_PREFIX}{stage}" for stage in self.stage_ids)
        names = [*STANDARD_DEAL_PROPERTIES, *self.custom_properties.values(), *entered]
        return list(dict.fromkeys(names))

    @property
    def contact_properties(self) -> list[str]:
        consent = self.custom_properties.get("ads_consent")
        return list(dict.fromkeys([*CONTACT_PROPERTIES, *([consent] if consent else [])]))


class _Typer:
    """Collects the issues of one record while typing its fields."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.issues: list[Issue] = []

    def value(self, parse: Callable[[str | None], Any], field: str, raw: str | None, *, keep_raw: bool = True) -> Any:
        try:
            return parse(raw)
        except InvalidValue as error:
            self.issues.append((self.key, field, str(error), raw if keep_raw else None))
            return None


def _without_nul(properties: dict[str, Any], typer: _Typer) -> dict[str, Any]:
    """PostgreSQL text and jsonb cannot hold NUL characters (some CRM imports carry them): removed and reported."""
    if not any(isinstance(value, str) and "\x00" in value for value in properties.values()):
        return properties
    cleaned = dict(properties)
    for name, value in properties.items():
        if isinstance(value, str) and "\x00" in value:
            cleaned[name] = value.replace("\x00", "")
            typer.issues.append((typer.key, name, "contains a NUL character (removed)", None))
    return cleaned


def _stripped(value: str | None) -> str | None:
    return None if blank(value) else value.strip()


def deal_row(deal: CrmObject, typing: DealTyping) -> tuple[tuple[Any, ...], list[Issue]]:
    """The ``raw.hubspot_deals`` row of a deal and its issues (field = the HubSpot property name)."""
    custom = typing.custom_properties
    typer = _Typer(str(deal.id))
    props = _without_nul(deal.properties, typer)

    def prop(role: str) -> str | None:
        name = custom.get(role)
        return props.get(name) if name else None

    amount = typer.value(parse_decimal, "amount", props.get("amount"))
    currency = typer.value(parse_currency, "deal_currency_code", props.get("deal_currency_code"))
    home_amount = typer.value(parse_decimal, "amount_in_home_currency", props.get("amount_in_home_currency"))
    created = typer.value(parse_business_timestamp, "createdate", props.get("createdate"))
    closed = typer.value(parse_business_timestamp, "closedate", props.get("closedate"))
    modified = typer.value(parse_timestamp, "hs_lastmodifieddate", props.get("hs_lastmodifieddate"))
    pipeline, stage = _stripped(props.get("pipeline")), _stripped(props.get("dealstage"))
    flagged_won = typer.value(parse_bool, "hs_is_closed_won", props.get("hs_is_closed_won"))
    entered = {
        name.removeprefix(STAGE_ENTERED_PREFIX): typer.value(parse_business_timestamp, name, value)
        for name, value in props.items()
        if name.startswith(STAGE_ENTERED_PREFIX) and not blank(value)
    }
    stage_entered = {stage_id: moment.isoformat() for stage_id, moment in sorted(entered.items()) if moment}
    epik_raw = prop("epik")
    epik = typer.value(validate_epik, custom.get("epik", "epik"), epik_raw)
    consent = typer.value(parse_bool, custom.get("ads_consent", "ads_consent"), prop("ads_consent"))
    merged = typer.value(parse_id_list, "hs_merged_object_ids", props.get("hs_merged_object_ids")) or []
    texts = {role: _stripped(prop(role)) for role in _TEXT_ROLES}
    row = (
        deal.id, Jsonb(props), amount, props.get("amount"), currency, home_amount,
        created, closed, modified, pipeline, stage, flagged_won, Jsonb(stage_entered),
        epik, epik_raw, *(texts[role] for role in _TEXT_ROLES[:7]),
        _stripped(props.get("hs_analytics_source")), _stripped(props.get("hs_analytics_source_data_1")),
        _stripped(props.get("hs_analytics_source_data_2")),
        texts["ip_address"], texts["user_agent"], consent, texts["legacy_deal_id"], merged, deal.archived,
        _utc(deal.archived_at), _utc(deal.created_at), _utc(deal.updated_at),
    )  # fmt: skip
    return row, typer.issues


def contact_row(
    contact: CrmObject, typing: DealTyping, default_region: str
) -> tuple[tuple[Any, ...], list[Issue]]:
    """The ``raw.hubspot_contacts`` row of a contact and its issues (raw PII is never copied into an issue)."""
    typer = _Typer(str(contact.id))
    props = _without_nul(contact.properties, typer)
    email = typer.value(normalize_email, "email", props.get("email"), keep_raw=False)
    phone_field = "phone" if not blank(props.get("phone")) else "mobilephone"
    region = phone_region(props.get("country"), default_region)
    phone = typer.value(lambda raw: normalize_phone(raw, region), phone_field, props.get(phone_field), keep_raw=False)
    consent_name = typing.custom_properties.get("ads_consent")
    consent = typer.value(parse_bool, consent_name, props.get(consent_name)) if consent_name else None
    row = (
        contact.id, Jsonb(props), props.get("email"), email, props.get("phone"), props.get("mobilephone"), phone,
        _stripped(props.get("firstname")), _stripped(props.get("lastname")), consent,
        typer.value(parse_business_timestamp, "createdate", props.get("createdate")),
        typer.value(parse_timestamp, "lastmodifieddate", props.get("lastmodifieddate")),
        contact.archived, _utc(contact.created_at), _utc(contact.updated_at),
    )  # fmt: skip
    return row, typer.issues


def stage_row(stage: DealStage) -> tuple[Any, ...]:
    return (
        stage.pipeline_id, stage.stage_id, stage.pipeline_label, stage.label, stage.display_order, stage.is_closed,
        stage.probability, stage.is_closed_won, stage.archived, Jsonb(stage.metadata),
    )  # fmt: skip


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
