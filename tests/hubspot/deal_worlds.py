"""Small HubSpot worlds for the extraction tests, written as sandbox dataset directories."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sandbox.dataset import Dataset

TOKEN = "pat-na1-pin2deal-hubspot-tests"
HOUR = dt.datetime(2025, 6, 10, 9, 0, tzinfo=dt.UTC)  # the data interval most tests extract
HOUR_MS = int(HOUR.timestamp() * 1000)
CUSTOM = {
    "epik": "pinterest_epik", "utm_source": "utm_source", "utm_medium": "utm_medium", "utm_campaign": "utm_campaign",
    "utm_content": "utm_content", "pinterest_campaign_id": "pinterest_campaign_id",
    "pinterest_ad_group_id": "pinterest_ad_group_id", "pinterest_ad_id": "pinterest_ad_id",
    "ads_consent": "ads_consent", "ip_address": "form_ip_address", "user_agent": "form_user_agent",
    "legacy_deal_id": "legacy_crm_deal_id",
    # the first touch, in properties of the portal's own (first_touch_utm_source -> first_utm_source, ...)
    **{f"first_touch_{role}": f"first_{role.removeprefix('pinterest_')}" for role in (
        "epik", "utm_source", "utm_medium", "utm_campaign", "utm_content", "pinterest_campaign_id",
        "pinterest_ad_group_id", "pinterest_ad_id",
    )},
}  # fmt: skip
CONFIG = {
    "hubspot_token": TOKEN, "pinterest_ads_token": "pina-test", "pinterest_conversions_token": "pinc-test",
    "ad_account_id": "549755885175", "currency": "USD", "timezone": "UTC", "today": "2025-06-30",
    "properties": CUSTOM,
}  # fmt: skip
PIPELINES = {
    "results": [
        {
            "id": "default", "label": "Sales", "displayOrder": 0, "archived": False,
            "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "stages": [
                {"id": "qualified", "label": "Qualified", "displayOrder": 0, "archived": False,
                 "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
                 "metadata": {"isClosed": "false", "probability": "0.4"}},
                {"id": "closedwon", "label": "Closed won", "displayOrder": 1, "archived": False,
                 "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
                 "metadata": {"isClosed": "true", "probability": "1.0"}},
                {"id": "closedlost", "label": "Closed lost", "displayOrder": 2, "archived": False,
                 "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
                 "metadata": {"isClosed": "true", "probability": "0.0"}},
            ],
        }
    ]
}  # fmt: skip


def _property(name: str, type_: str = "string", custom: bool = False) -> dict[str, Any]:
    return {"name": name, "label": name, "type": type_, "fieldType": "text", "hubspotDefined": not custom}


DEAL_PROPERTIES = [
    _property("amount", "number"), _property("amount_in_home_currency", "number"), _property("dealname"),
    _property("dealstage", "enumeration"), _property("pipeline", "enumeration"), _property("closedate", "datetime"),
    _property("createdate", "datetime"), _property("hs_lastmodifieddate", "datetime"),
    _property("hs_is_closed_won", "bool"), _property("deal_currency_code", "enumeration"),
    _property("hs_merged_object_ids", "enumeration"), _property("hs_object_id", "number"),
    _property("hs_v2_date_entered_closedwon", "datetime"),
    *(_property(name, custom=True) for role, name in CUSTOM.items() if role != "ads_consent"),
]  # fmt: skip
CONTACT_PROPERTIES = [
    _property("email"), _property("phone"), _property("mobilephone"), _property("firstname"), _property("lastname"),
    _property("createdate", "datetime"), _property("lastmodifieddate", "datetime"),
    _property("ads_consent", custom=True), _property("city"), _property("state"), _property("zip"),
    _property("country"), _property("date_of_birth"), _property("gender", custom=True),
]  # fmt: skip


def iso(moment: dt.datetime | int) -> str:
    if isinstance(moment, int):
        moment = dt.datetime.fromtimestamp(moment / 1000, dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def deal(deal_id: int, modified_ms: int, *, contacts: list[int] = (), archived: bool = False, **props: Any):
    """A deal in the dataset format: an open EUR deal unless ``props`` say otherwise (``None`` unsets)."""
    created = HOUR - dt.timedelta(days=5)
    properties = {
        "dealname": f"Deal {deal_id}", "amount": "1200.50", "deal_currency_code": "EUR", "pipeline": "default",
        "dealstage": "qualified", "hs_is_closed_won": "false", "createdate": iso(created),
        "hs_lastmodifieddate": iso(modified_ms), "closedate": None, CUSTOM["epik"]: None,
    }  # fmt: skip
    properties.update({CUSTOM.get(name, name): value for name, value in props.items()})
    return {
        "id": str(deal_id), "properties": properties, "createdAt": iso(created), "updatedAt": iso(modified_ms),
        "archived": archived, "associations": {"contacts": [str(contact) for contact in contacts]},
    }


def contact(contact_id: int, **props: Any) -> dict[str, Any]:
    properties = {
        "email": f"Buyer{contact_id}@Example.com ", "phone": "(415) 555-0100", "firstname": "Ann",
        "lastname": f"Buyer {contact_id}", "ads_consent": "granted", "createdate": "2025-06-01T00:00:00.000Z",
        "lastmodifieddate": "2025-06-01T00:00:00.000Z",
    }  # fmt: skip
    properties.update(props)
    return {"id": str(contact_id), "properties": properties, "createdAt": "2025-06-01T00:00:00.000Z",
            "updatedAt": "2025-06-01T00:00:00.000Z", "archived": False}


def write_world(
    root: Path, deals: list[dict[str, Any]], contacts: list[dict[str, Any]], *, drop_deal_property: str | None = None
) -> Path:
    properties = [spec for spec in DEAL_PROPERTIES if spec["name"] != drop_deal_property]
    Dataset(
        config=CONFIG, deals=deals, contacts=contacts, pipelines=PIPELINES,
        properties={"deals": properties, "contacts": CONTACT_PROPERTIES},
    ).save(root)  # fmt: skip
    return root


def hubspot_connection(url: str, token: str = TOKEN, **extra: Any) -> str:
    """``AIRFLOW_CONN_HUBSPOT_DEFAULT`` for a sandbox URL, with the test portal's custom property names."""
    host, port = url.removeprefix("http://").split(":")
    return json.dumps({
        "conn_type": "http", "host": host, "port": int(port), "schema": "http", "password": token,
        "extra": {"properties": CUSTOM, **extra},
    })  # fmt: skip


FAST = {"rate_limit_per_10s": 100_000, "search_per_second": 10_000}  # our limiter out of the way
