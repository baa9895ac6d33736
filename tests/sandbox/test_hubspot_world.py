"""Small HubSpot worlds for the sandbox tests (imported by the other ``test_hubspot_*`` modules), and the tests of
how a dataset becomes the emulator's state: completion as HubSpot would, and errors naming the record and field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from sandbox.dataset import Dataset
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.wire import iso_ms, parse_instant

TOKEN = "pat-na1-sandbox-test"
TODAY = dt.date(2025, 6, 30)
NOW = dt.datetime(2025, 6, 30, 12, 0, tzinfo=dt.UTC)
BASE_MS = parse_instant("2025-06-01T00:00:00Z")
CONFIG = {
    "hubspot_token": TOKEN, "pinterest_ads_token": "pina-test", "pinterest_conversions_token": "pinc-test",
    "ad_account_id": "549755885175", "currency": "EUR", "timezone": "Europe/Paris", "today": TODAY.isoformat(),
    "properties": {
        "epik": "pinterest_epik", "utm_source": "utm_source", "utm_medium": "utm_medium",
        "utm_campaign": "utm_campaign", "utm_content": "utm_content", "pinterest_campaign_id": "pin_campaign_id",
        "pinterest_ad_group_id": "pin_ad_group_id", "pinterest_ad_id": "pin_ad_id", "ads_consent": "ads_consent",
        "ip_address": "ip_address", "user_agent": "user_agent", "legacy_deal_id": "legacy_deal_id",
    },
}
PIPELINES = {"results": [{
    "id": "default", "label": "Sales Pipeline", "displayOrder": 0, "archived": False,
    "createdAt": "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
    "stages": [
        {"id": "appointmentscheduled", "label": "Appointment scheduled", "displayOrder": 0,
         "metadata": {"isClosed": "false", "probability": "0.2"}},
        {"id": "closedwon", "label": "Closed won", "displayOrder": 1,
         "metadata": {"isClosed": "true", "probability": "1.0"}},
        {"id": "closedlost", "label": "Closed lost", "displayOrder": 2,
         "metadata": {"isClosed": "true", "probability": "0.0"}},
    ],
}]}


def _property(name: str, type_: str, field_type: str, hubspot_defined: bool = True) -> dict[str, Any]:
    group = "dealinformation"
    return {"name": name, "label": name.replace("_", " ").title(), "type": type_, "fieldType": field_type,
            "groupName": group, "description": "", "options": [], "hubspotDefined": hubspot_defined}


PROPERTIES = {
    "deals": [
        _property("amount", "number", "number"), _property("dealname", "string", "text"),
        _property("dealstage", "enumeration", "radio"), _property("pipeline", "enumeration", "select"),
        _property("closedate", "datetime", "date"), _property("createdate", "datetime", "date"),
        _property("hs_lastmodifieddate", "datetime", "date"), _property("hs_is_closed_won", "bool", "booleancheckbox"),
        _property("deal_currency_code", "enumeration", "select"),
        _property("hs_merged_object_ids", "enumeration", "checkbox"),
        _property("pinterest_epik", "string", "text", hubspot_defined=False),
        _property("utm_source", "string", "text", hubspot_defined=False),
        _property("legacy_deal_id", "string", "text", hubspot_defined=False),
    ],
    "contacts": [
        _property("email", "string", "text"), _property("phone", "string", "phonenumber"),
        _property("firstname", "string", "text"), _property("lastname", "string", "text"),
        _property("lastmodifieddate", "datetime", "date"),
    ],
}


def deal(number: int, *, modified_ms: int | None = None, contacts: list[str] | None = None,
         archived: bool = False, **properties: str | None) -> dict[str, Any]:
    """Deal ``1000 + number``, created on 2025-05-31 (``number`` seconds after midnight), last modified ``number``
    minutes after 2025-06-01T00:00Z unless ``modified_ms`` says otherwise."""
    created = BASE_MS - 86_400_000 + number * 1000
    modified = BASE_MS + number * 60_000 if modified_ms is None else modified_ms
    values: dict[str, str | None] = {
        "dealname": f"Deal {number}", "amount": str(100 * number), "deal_currency_code": "EUR",
        "pipeline": "default", "dealstage": "appointmentscheduled", "createdate": iso_ms(created),
        "hs_lastmodifieddate": iso_ms(modified), "hs_is_closed_won": "false", "closedate": None,
    }
    values.update(properties)
    return {"id": str(1000 + number), "properties": values, "createdAt": iso_ms(created),
            "updatedAt": iso_ms(modified), "archived": archived, "associations": {"contacts": contacts or []}}


def contact(number: int) -> dict[str, Any]:
    stamp = iso_ms(BASE_MS - 86_400_000 + number * 1000)
    return {"id": str(5000 + number), "createdAt": stamp, "updatedAt": stamp, "archived": False, "properties": {
        "email": f"buyer{number}@example.com", "phone": f"+3361234{number:04d}", "firstname": f"Buyer{number}",
        "lastname": "Example", "createdate": stamp, "lastmodifieddate": stamp}}


def world(deals: list[dict[str, Any]], contacts: list[dict[str, Any]] | None = None) -> Dataset:
    return Dataset(config=CONFIG, deals=deals, contacts=contacts or [], pipelines=PIPELINES, properties=PROPERTIES)


def save_world(root: Path, deals: list[dict[str, Any]], contacts: list[dict[str, Any]] | None = None) -> Path:
    world(deals, contacts).save(root)
    return root


def test_a_dataset_is_completed_as_hubspot_would() -> None:
    row = {"id": 7, "properties": {"dealname": "Bare", "amount": 12.5, "hs_is_closed_won": False},
           "createdAt": "2025-06-01T10:00:00Z", "updatedAt": "1748779200000"}
    state = HubSpotState(world([row]), lambda: NOW)
    record = state.deals.get("7")
    assert record is not None
    assert record.properties["hs_object_id"] == "7"
    assert record.properties["amount"] == "12.5" and record.properties["hs_is_closed_won"] == "false"
    assert record.properties["createdate"] == "2025-06-01T10:00:00.000Z"
    assert record.properties["hs_lastmodifieddate"] == record.updated_at == "2025-06-01T12:00:00.000Z"
    assert record.created_at == "2025-06-01T10:00:00.000Z"
    stage = state.pipelines[0]["stages"][1]
    assert stage["metadata"] == {"isClosed": "true", "probability": "1.0"} and stage["archived"] is False


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"id": "12a", "createdAt": "2025-06-01T00:00:00Z"}, "record 1: field 'id' must be a numeric string"),
        ({"id": "12", "createdAt": "yesterday"}, "record 1 (id '12'): field 'createdAt' is not an ISO-8601"),
        ({"id": "12", "createdAt": "2025-06-01T00:00:00Z", "properties": {"amount": [1]}},
         "record 1 (id '12'): property 'amount': a property value must be a string or null"),
    ],
)
def test_a_bad_record_is_named_with_its_field(row: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        HubSpotState(world([row]), lambda: NOW)


def test_an_association_to_an_unknown_contact_is_named() -> None:
    with pytest.raises(ValueError, match=r"record 1 \(id '1001'\): associations.contacts: unknown contact ids"):
        HubSpotState(world([deal(1, contacts=["999"])]), lambda: NOW)
