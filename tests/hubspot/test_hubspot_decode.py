"""HubSpot's JSON answers decoded straight into ``CrmObject``s (the extraction's hot path, no client models)."""

from __future__ import annotations

import datetime as dt

import pytest

from pin2deal.hooks.hubspot_api import CrmObject, HubSpotAPIError, _decode, _Objects


def test_an_answer_becomes_crm_objects_with_typed_envelope_and_raw_property_strings() -> None:
    body = (
        b'{"total": 2, "results": [{"id": "17", "properties": {"amount": " 1,250.00 USD", "closedate": null},'
        b' "createdAt": "2025-06-08T10:00:00.123Z", "updatedAt": "2025-06-09T10:00:00Z", "archived": false,'
        b' "unknownField": {"x": 1}}, {"id": "18", "properties": {}, "archived": true,'
        b' "archivedAt": "2025-06-10T00:00:00.000+02:00"}], "paging": {"next": {"after": "18", "link": "?"}}}'
    )
    answer = _decode("search", body, _Objects)
    assert answer.total == 2 and answer.paging.after == "18"
    first, second = answer.results
    assert first == CrmObject(
        id=17,
        properties={"amount": " 1,250.00 USD", "closedate": None},  # exactly as sent: typing flags it later
        created_at=dt.datetime(2025, 6, 8, 10, 0, 0, 123000, tzinfo=dt.UTC),
        updated_at=dt.datetime(2025, 6, 9, 10, 0, tzinfo=dt.UTC),
        archived=False,
    )
    assert second.archived and second.archived_at == dt.datetime(2025, 6, 9, 22, 0, tzinfo=dt.UTC)
    assert second.created_at is None


def test_a_property_sent_as_a_json_number_or_boolean_is_read_as_its_text() -> None:
    body = b'{"results": [{"id": "5", "properties": {"amount": 1200.5, "hs_is_closed_won": true, "x": "y"}}]}'
    assert _decode("search", body, _Objects).results[0].properties == {
        "amount": "1200.5", "hs_is_closed_won": "true", "x": "y"
    }


def test_an_answer_that_does_not_fit_fails_naming_where() -> None:
    with pytest.raises(HubSpotAPIError, match=r"HubSpot contacts answered JSON .*\$\.results\[1\]\.id"):
        _decode("contacts", b'{"results": [{"id": "1"}, {"id": "not a number"}]}', _Objects)
    with pytest.raises(HubSpotAPIError, match="HubSpot search answered something that is not JSON"):
        _decode("search", b"<html>gateway</html>", _Objects)
