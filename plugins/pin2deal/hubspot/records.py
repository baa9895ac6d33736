"""HubSpot deals and contacts as warehouse rows: strict typing, with every refused value reported, never dropped.

``deal_rows``/``contact_rows`` return the rows of a page for ``raw.hubspot_deals``/``raw.hubspot_contacts``
(column order of ``DEAL_COLUMNS``/``CONTACT_COLUMNS``) and the issues found, as
``(record_key, field, reason, raw_value)`` for ``ops.record_issues``. A bad value leaves its typed column NULL; the
raw string stays in ``properties``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec
from psycopg.types.json import Jsonb

from pin2deal.hooks.hubspot_api import (
    CONTACT_OR_DEAL_ROLES,
    CONTACT_ROLES,
    FIRST_TOUCH_ROLES,
    CrmObject,
    DealStage,
)
from pin2deal.normalize import (
    InvalidValue,
    blank,
    normalize_birth_date,
    normalize_city,
    normalize_country,
    normalize_email,
    normalize_gender,
    normalize_phone,
    normalize_state,
    normalize_zip,
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
)  # and the contact roles' properties (the address: its country is also the region national phones are read in)
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
    "lead_event_id",
)

_IP, _USER_AGENT, _LEGACY, _LEAD_EVENT = (
    _TEXT_ROLES.index(role) for role in ("ip_address", "user_agent", "legacy_deal_id", "lead_event_id")
)
DEAL_COLUMNS = (
    "deal_id", "properties", "amount", "amount_raw", "currency", "amount_in_home_currency",
    "created_at", "closed_at", "modified_at", "pipeline", "dealstage", "hs_is_closed_won", "stage_entered_at",
    "epik", "epik_raw", *_TEXT_ROLES[:7], "analytics_source", "analytics_source_data_1", "analytics_source_data_2",
    "ip_address", "user_agent", "ads_consent", "legacy_deal_id", "merged_object_ids", "archived", "archived_at",
    "hubspot_created_at", "hubspot_updated_at", "lead_event_id", "first_touch_epik", "first_touch_epik_raw",
    *(FIRST_TOUCH_ROLES[role] for role in _TEXT_ROLES[:7]),
)  # fmt: skip
# The first-touch text roles, copied like their last-touch roles to a column of the role's name.
_FIRST_TOUCH_TEXT_ROLES = tuple(FIRST_TOUCH_ROLES[role] for role in _TEXT_ROLES[:7])
LEGACY_DEAL_ID_COLUMN = DEAL_COLUMNS.index("legacy_deal_id")
CONTACT_COLUMNS = (
    "contact_id", "properties", "email", "email_normalized", "phone", "mobilephone", "phone_e164", "first_name",
    "last_name", "ads_consent", "created_at", "modified_at", "archived", "hubspot_created_at", "hubspot_updated_at",
    "lead_event_id", "city_normalized", "state_code", "zip_normalized", "country_code", "gender_code", "birth_date",
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
        custom = [name for role, name in self.custom_properties.items() if role not in CONTACT_ROLES]
        return list(dict.fromkeys([*STANDARD_DEAL_PROPERTIES, *custom, *entered]))

    @property
    def entered_properties(self) -> list[tuple[str, str]]:
        """(stage id, the property holding when a deal entered it), by stage id."""
        return [(stage, f"{STAGE_ENTERED_PREFIX}{stage}") for stage in sorted(self.stage_ids)]

    @property
    def contact_properties(self) -> list[str]:
        """The contact properties to request: the standard ones and the roles a contact may hold."""
        roles = [self.custom_properties.get(role) for role in CONTACT_OR_DEAL_ROLES | CONTACT_ROLES]
        return list(dict.fromkeys([*CONTACT_PROPERTIES, *sorted(name for name in roles if name)]))


def _typed(
    parse: Callable[[str], Any], raw: str | None, record: int, field: str, issues: list[Issue], keep_raw: bool = True
) -> Any:
    """``parse(raw)``, or None with an issue for the record when ``raw`` cannot be typed (absent values: None)."""
    if raw is None:
        return None
    try:
        return parse(raw)
    except InvalidValue as error:
        issues.append((str(record), field, str(error), raw if keep_raw else None))
        return None


_json = msgspec.json.encode  # the JSON columns' encoder: C, several times json.dumps's speed


def _without_nul(properties: dict[str, Any], record: int, issues: list[Issue]) -> dict[str, Any]:
    """PostgreSQL text and jsonb cannot hold NUL characters (some CRM imports carry them): removed and reported."""
    if not any(isinstance(value, str) and "\x00" in value for value in properties.values()):
        return properties
    cleaned = dict(properties)
    for name, value in properties.items():
        if isinstance(value, str) and "\x00" in value:
            cleaned[name] = value.replace("\x00", "")
            issues.append((str(record), name, "contains a NUL character (removed)", None))
    return cleaned


def _stripped(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


def deal_rows(deals: Iterable[CrmObject], typing: DealTyping) -> tuple[list[tuple[Any, ...]], list[Issue]]:
    """The ``raw.hubspot_deals`` rows of a page of deals and their issues (field = the HubSpot property name).

    A page at a time, with everything about the portal looked up once: this runs for every deal extracted."""
    custom = typing.custom_properties
    epik_name, consent_name = custom.get("epik"), custom.get("ads_consent")
    epik_field, consent_field = epik_name or "epik", consent_name or "ads_consent"
    text_names = [custom.get(role) for role in _TEXT_ROLES]
    first_epik_name = custom.get(FIRST_TOUCH_ROLES["epik"])
    first_text_names = [custom.get(role) for role in _FIRST_TOUCH_TEXT_ROLES]
    entered_names = typing.entered_properties
    rows: list[tuple[Any, ...]] = []
    issues: list[Issue] = []
    for deal in deals:
        deal_id = deal.id
        props = _without_nul(deal.properties, deal_id, issues)
        get = props.get
        amount_raw = get("amount")
        entered = {}
        for stage_id, name in entered_names:
            raw = get(name)
            if raw is not None and raw.strip():
                moment = _typed(parse_business_timestamp, raw, deal_id, name, issues)
                if moment:
                    entered[stage_id] = moment.isoformat()
        epik_raw = get(epik_name) if epik_name else None
        texts = [_stripped(get(name)) if name else None for name in text_names]
        first_epik_raw = get(first_epik_name) if first_epik_name else None
        rows.append((
            deal_id, Jsonb(props, _json), _typed(parse_decimal, amount_raw, deal_id, "amount", issues), amount_raw,
            _typed(parse_currency, get("deal_currency_code"), deal_id, "deal_currency_code", issues),
            _typed(parse_decimal, get("amount_in_home_currency"), deal_id, "amount_in_home_currency", issues),
            _typed(parse_business_timestamp, get("createdate"), deal_id, "createdate", issues),
            _typed(parse_business_timestamp, get("closedate"), deal_id, "closedate", issues),
            _typed(parse_timestamp, get("hs_lastmodifieddate"), deal_id, "hs_lastmodifieddate", issues),
            _stripped(get("pipeline")), _stripped(get("dealstage")),
            _typed(parse_bool, get("hs_is_closed_won"), deal_id, "hs_is_closed_won", issues), Jsonb(entered, _json),
            _typed(validate_epik, epik_raw, deal_id, epik_field, issues), epik_raw, *texts[:7],
            _stripped(get("hs_analytics_source")), _stripped(get("hs_analytics_source_data_1")),
            _stripped(get("hs_analytics_source_data_2")), texts[_IP], texts[_USER_AGENT],
            _typed(parse_bool, get(consent_name) if consent_name else None, deal_id, consent_field, issues),
            texts[_LEGACY], _typed(parse_id_list, get("hs_merged_object_ids"), deal_id, "hs_merged_object_ids", issues)
            or [], deal.archived, _utc(deal.archived_at), _utc(deal.created_at), _utc(deal.updated_at),
            texts[_LEAD_EVENT],
            _typed(validate_epik, first_epik_raw, deal_id, first_epik_name, issues), first_epik_raw,
            *(_stripped(get(name)) if name else None for name in first_text_names),
        ))  # fmt: skip
    return rows, issues


def contact_rows(
    contacts: Iterable[CrmObject], typing: DealTyping, default_region: str
) -> tuple[list[tuple[Any, ...]], list[Issue]]:
    """The ``raw.hubspot_contacts`` rows of a page of contacts and their issues (raw PII never goes into one).

    The contact roles (address, gender, date of birth) are typed as the Conversions API matches them
    (``normalize.py``): a value that cannot be is left NULL and reported, naming the contact and its property."""
    custom = typing.custom_properties
    consent_name, lead_event_name = custom.get("ads_consent"), custom.get("lead_event_id")
    city_name, state_name, zip_name, country_name, gender_name, birth_name = (
        custom.get(role) for role in ("city", "state", "zip", "country", "gender", "date_of_birth")
    )
    rows: list[tuple[Any, ...]] = []
    issues: list[Issue] = []
    for contact in contacts:
        contact_id = contact.id
        props = _without_nul(contact.properties, contact_id, issues)
        get = props.get
        email, phone, mobile = get("email"), get("phone"), get("mobilephone")
        phone_field, phone_raw = ("phone", phone) if not blank(phone) else ("mobilephone", mobile)
        region = phone_region(get(country_name) if country_name else None, default_region)
        country = _role(normalize_country, get, country_name, contact_id, issues)
        place = country or region  # the ZIP code and state rules follow the contact's country, else the default
        rows.append((
            contact_id, Jsonb(props, _json), email, _typed(normalize_email, email, contact_id, "email", issues, False),
            phone, mobile,
            _typed(partial(normalize_phone, default_region=region), phone_raw, contact_id, phone_field, issues, False),
            _stripped(get("firstname")), _stripped(get("lastname")),
            _typed(parse_bool, get(consent_name), contact_id, consent_name, issues) if consent_name else None,
            _typed(parse_business_timestamp, get("createdate"), contact_id, "createdate", issues),
            _typed(parse_timestamp, get("lastmodifieddate"), contact_id, "lastmodifieddate", issues),
            contact.archived, _utc(contact.created_at), _utc(contact.updated_at),
            _stripped(get(lead_event_name)) if lead_event_name else None,
            _role(normalize_city, get, city_name, contact_id, issues),
            _role(partial(normalize_state, country=place), get, state_name, contact_id, issues),
            _role(partial(normalize_zip, country=place), get, zip_name, contact_id, issues),
            country, _role(normalize_gender, get, gender_name, contact_id, issues),
            _role(normalize_birth_date, get, birth_name, contact_id, issues),
        ))  # fmt: skip
    return rows, issues


def _role(
    normalize: Callable[[str], Any], get: Callable[[str], str | None], name: str | None, record: int,
    issues: list[Issue],
) -> Any:
    """A contact role's typed value (None when the role is off); its issue keeps no raw value (PII)."""
    return _typed(normalize, get(name), record, name, issues, False) if name else None


def stage_row(stage: DealStage) -> tuple[Any, ...]:
    return (
        stage.pipeline_id, stage.stage_id, stage.pipeline_label, stage.label, stage.display_order, stage.is_closed,
        stage.probability, stage.is_closed_won, stage.archived, Jsonb(stage.metadata),
    )  # fmt: skip


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
