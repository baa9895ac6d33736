"""Conformance of the HubSpot emulator with the real ``hubspot-api-client``: every endpoint pin2deal calls answers
in a shape the client deserialises, with the fields pin2deal reads, over real HTTP on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import hubspot
import pytest
from hubspot.crm.associations.v4 import BatchInputPublicFetchAssociationsBatchRequest
from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId as ContactsBatchRead
from hubspot.crm.deals import ApiException, BatchReadInputSimplePublicObjectId, PublicObjectSearchRequest
from hubspot.crm.properties import ApiException as PropertiesApiException

from sandbox.hubspot.wire import iso_ms
from tests.sandbox.test_hubspot_world import BASE_MS, TOKEN, contact, deal, save_world

MINUTE = 60_000


class Apis:
    """The client's API objects, bound once (each attribute access on ``client.crm`` builds a new pool)."""

    def __init__(self, url: str, token: str = TOKEN, **options: Any) -> None:
        client = hubspot.Client.create(access_token=token, host=url, **options)
        self.url = url
        self.search = client.crm.deals.search_api
        self.deals = client.crm.deals.basic_api
        self.deals_batch = client.crm.deals.batch_api
        self.contacts_batch = client.crm.contacts.batch_api
        self.associations = client.crm.associations.v4.batch_api
        self.properties = client.crm.properties.core_api
        self.pipelines = client.crm.pipelines.pipelines_api
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})

    def window(self, low: int, high: int, *, limit: int = 200, after: str | None = None, **extra: Any):
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": [
                {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(low)},
                {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(high)},
            ]}],
            sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            limit=limit, after=after, **extra,
        )
        return self.search.do_search(public_object_search_request=request)

    def search_ids(self, filter_groups: list[dict[str, Any]], **extra: Any) -> list[str]:
        request = PublicObjectSearchRequest(filter_groups=filter_groups, limit=200, **extra)
        return [record.id for record in self.search.do_search(public_object_search_request=request).results]


DEALS = 60
ARCHIVED = 90


@pytest.fixture
def apis(tmp_path: Path, sandbox_server: Callable[..., Any]) -> Apis:
    """60 active deals (1001..1060, deal n modified n minutes after 2025-06-01), one archived (1090), 4 contacts."""
    deals = [deal(n, contacts=[str(5000 + n % 4)] if n % 5 else [], pinterest_epik=f"epik-{n}" if n % 2 else None)
             for n in range(1, DEALS + 1)]
    deals.append(deal(ARCHIVED, archived=True))
    server = sandbox_server(save_world(tmp_path, deals, [contact(n) for n in range(4)]), rate_limits=False)
    return Apis(server.url)


def test_search_window_pages_completely_in_modified_order(apis: Apis) -> None:
    low, high = BASE_MS + 10 * MINUTE, BASE_MS + 47 * MINUTE  # deals 1010..1046
    seen, after, pages = [], None, 0
    while True:
        page = apis.window(low, high, limit=7, after=after, properties=["amount", "pinterest_epik"])
        assert page.total == 37
        seen.extend(page.results)
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
        assert after.isdigit()
    assert pages == 6
    assert [record.id for record in seen] == [str(1000 + n) for n in range(10, 47)]
    first = seen[0]
    assert set(first.properties) == {"amount", "pinterest_epik", "hs_object_id", "createdate", "hs_lastmodifieddate"}
    assert first.properties["amount"] == "1000" and first.properties["pinterest_epik"] is None
    assert seen[1].properties["pinterest_epik"] == "epik-11"
    assert first.properties["hs_lastmodifieddate"] == iso_ms(BASE_MS + 10 * MINUTE)
    assert first.created_at.tzinfo is not None and first.archived is False


def test_search_defaults_descending_and_iso_values(apis: Apis) -> None:
    iso_low, iso_high = iso_ms(BASE_MS + 10 * MINUTE), iso_ms(BASE_MS + 13 * MINUTE)
    request = PublicObjectSearchRequest(
        filter_groups=[{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "BETWEEN",
                                     "value": iso_low, "highValue": iso_high}]}],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}], limit=3,
    )
    page = apis.search.do_search(public_object_search_request=request)
    assert (page.total, [r.id for r in page.results], page.paging.next.after) == (4, ["1013", "1012", "1011"], "3")
    assert set(page.results[0].properties) == {"amount", "closedate", "createdate", "dealname", "dealstage",
                                               "hs_lastmodifieddate", "hs_object_id", "pipeline"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"propertyName": "amount", "operator": "LT", "value": "1000"}], range(1, 10)),  # numeric, not "900" > "1000"
        ([{"propertyName": "amount", "operator": "GTE", "value": "5800"}], range(58, 61)),
        ([{"propertyName": "amount", "operator": "LTE", "value": "200"}], range(1, 3)),
        ([{"propertyName": "amount", "operator": "GT", "value": "5900"}], [60]),
        ([{"propertyName": "amount", "operator": "EQ", "value": "700"}], [7]),
        ([{"propertyName": "dealname", "operator": "EQ", "value": "deal 7"}], [7]),  # strings: case-insensitive
        ([{"propertyName": "hs_object_id", "operator": "IN", "values": ["1003", "1059", "1090", "7"]}], [3, 59]),
        ([{"propertyName": "amount", "operator": "NOT_IN", "values": [str(100 * n) for n in range(3, 61)]}], [1, 2]),
        ([{"propertyName": "amount", "operator": "NEQ", "value": "100"}], range(2, 61)),
        ([{"propertyName": "pinterest_epik", "operator": "HAS_PROPERTY"},
          {"propertyName": "amount", "operator": "LT", "value": "1000"}], [1, 3, 5, 7, 9]),
        ([{"propertyName": "pinterest_epik", "operator": "NOT_HAS_PROPERTY"},
          {"propertyName": "amount", "operator": "LT", "value": "700"}], [2, 4, 6]),
        ([{"propertyName": "pinterest_epik", "operator": "CONTAINS_TOKEN", "value": "epik-13"}], [13]),
        ([{"propertyName": "pinterest_epik", "operator": "CONTAINS_TOKEN", "value": "EPIK-5*"}],
         [5, *range(51, 60, 2)]),
        ([{"propertyName": "createdate", "operator": "LT", "value": "2025-05-31T00:00:03Z"}], [1, 2]),
        ([{"propertyName": "closedate", "operator": "HAS_PROPERTY"}], []),
    ],
)
def test_search_operators(apis: Apis, filters: list[dict[str, Any]], expected: Any) -> None:
    assert apis.search_ids([{"filters": filters}]) == [str(1000 + n) for n in expected]


def test_search_or_of_groups_in_id_order_and_sorted_by_other_property(apis: Apis) -> None:
    groups = [
        {"filters": [{"propertyName": "amount", "operator": "GTE", "value": "5900"}]},
        {"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "LTE", "value": str(BASE_MS + 2 * MINUTE)}]},
    ]
    assert apis.search_ids(groups) == ["1001", "1002", "1059", "1060"]
    by_name = apis.search_ids(groups, sorts=[{"propertyName": "dealname", "direction": "DESCENDING"}])
    assert by_name == ["1060", "1059", "1002", "1001"]  # "deal 60" > "deal 59" > "deal 2" > "deal 1" as strings


def test_archived_deals_are_not_searchable(apis: Apis) -> None:
    assert apis.search_ids([{"filters": [{"propertyName": "hs_object_id", "operator": "EQ", "value": "1090"}]}]) == []
    assert apis.window(0, 2**42).total == DEALS


def test_search_on_the_object_type_id_path(apis: Apis) -> None:
    body = {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "EQ", "value": "300"}]}]}
    for path in ("/crm/v3/objects/0-3/search", "/crm/v3/objects/deals/search"):
        answer = apis.http.post(path, json=body)
        assert answer.status_code == 200 and answer.json()["total"] == 1
        assert answer.json()["results"][0]["id"] == "1003"
        assert "x-hubspot-ratelimit-remaining" not in answer.headers  # search responses carry no limit headers


def test_search_limit_over_200_is_a_validation_error(apis: Apis) -> None:
    with pytest.raises(ApiException) as raised:
        apis.search.do_search(public_object_search_request=PublicObjectSearchRequest(limit=201))
    body = json.loads(raised.value.body)
    assert raised.value.status == 400 and body["category"] == "VALIDATION_ERROR" and body["status"] == "error"
    assert "200" in body["message"] and len(body["correlationId"]) == 36


def test_search_stops_at_ten_thousand_results(tmp_path: Path, sandbox_server: Callable[..., Any]) -> None:
    deals = [deal(n) for n in range(1, 10_051)]
    apis = Apis(sandbox_server(save_world(tmp_path, deals), rate_limits=False).url)
    page = apis.window(0, 2**42, after="9900")
    assert page.total == 10_050
    assert [r.id for r in page.results] == [str(1000 + n) for n in range(9901, 10_001)]
    assert page.paging.next.after == "10000"
    with pytest.raises(ApiException) as raised:
        apis.window(0, 2**42, after=page.paging.next.after)
    body = json.loads(raised.value.body)
    assert raised.value.status == 400
    assert (body["status"], body["category"], body["message"]) == (
        "error", "VALIDATION_ERROR", "There was a problem with the request."
    )


def test_list_pages_completely_with_properties_and_associations(apis: Apis) -> None:
    seen, after = [], None
    while True:
        page = apis.deals.get_page(limit=9, after=after, properties=["amount", "dealstage"], associations=["contacts"])
        seen.extend(page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
        assert after.isdigit() and page.paging.next.link.endswith(f"after={after}")
    assert [record.id for record in seen] == [str(1000 + n) for n in range(1, DEALS + 1)]
    by_id = {record.id: record for record in seen}
    assert by_id["1005"].associations is None
    assert [a.id for a in by_id["1006"].associations["contacts"].results] == ["5002"]
    assert by_id["1006"].associations["contacts"].results[0].type == "deal_to_contact"
    assert by_id["1006"].properties["dealstage"] == "appointmentscheduled"
    assert by_id["1006"].updated_at.isoformat() == "2025-06-01T00:06:00+00:00"


def test_list_archived_returns_only_archived_deals(apis: Apis) -> None:
    page = apis.deals.get_page(limit=100, archived=True)
    assert [(record.id, record.archived) for record in page.results] == [("1090", True)]
    assert page.results[0].archived_at is not None and page.paging is None
    raw = apis.http.get("/crm/v3/objects/0-3", params={"archived": "true"}).json()
    assert [record["id"] for record in raw["results"]] == ["1090"]


def test_list_limit_over_100_is_a_validation_error(apis: Apis) -> None:
    with pytest.raises(ApiException) as raised:
        apis.deals.get_page(limit=101)
    assert raised.value.status == 400 and json.loads(raised.value.body)["category"] == "VALIDATION_ERROR"


def test_batch_read_all_found_is_200(apis: Apis) -> None:
    answer = apis.deals_batch.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "1002"}, {"id": "1001"}], properties=["amount"]))
    assert type(answer).__name__ == "BatchResponseSimplePublicObject" and answer.status == "COMPLETE"
    assert sorted((r.id, r.properties["amount"]) for r in answer.results) == [("1001", "100"), ("1002", "200")]
    contacts = apis.contacts_batch.read(batch_read_input_simple_public_object_id=ContactsBatchRead(
        inputs=[{"id": "5001"}], properties=["email", "phone"]))
    assert contacts.results[0].properties["email"] == "buyer1@example.com"
    assert contacts.results[0].properties["phone"] == "+33612340001"


def test_batch_read_with_missing_ids_is_207_with_errors(apis: Apis) -> None:
    answer = apis.deals_batch.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        inputs=[{"id": "1001"}, {"id": "1090"}, {"id": "4242"}]))
    assert type(answer).__name__ == "BatchResponseSimplePublicObjectWithErrors"
    assert [r.id for r in answer.results] == ["1001"] and answer.num_errors == 1
    error = answer.errors[0]
    assert (error.status, error.category, error.context) == ("error", "OBJECT_NOT_FOUND", {"ids": ["1090", "4242"]})
    assert "DEAL objects" in error.message
    raw = apis.http.post("/crm/v3/objects/0-1/batch/read", json={"inputs": [{"id": "5000"}, {"id": "1"}]})
    assert raw.status_code == 207 and raw.json()["errors"][0]["context"] == {"ids": ["1"]}
    assert "CONTACT objects" in raw.json()["errors"][0]["message"]


def test_batch_read_over_100_inputs_is_400(apis: Apis) -> None:
    with pytest.raises(ApiException) as raised:
        apis.deals_batch.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[{"id": str(n)} for n in range(101)]))
    assert raised.value.status == 400


def test_association_batch_read_pages_and_reports_unknown_deals(tmp_path: Path,
                                                                sandbox_server: Callable[..., Any]) -> None:
    contacts = [contact(n) for n in range(1_200)]
    deals = [deal(1, contacts=[c["id"] for c in contacts]), deal(2, contacts=["5007", "5003"]), deal(3)]
    apis = Apis(sandbox_server(save_world(tmp_path, deals, contacts), rate_limits=False).url)

    def read(inputs: list[dict[str, str]]):
        return apis.associations.get_page(
            "deals", "contacts",
            batch_input_public_fetch_associations_batch_request=BatchInputPublicFetchAssociationsBatchRequest(
                inputs=inputs))

    first = read([{"id": "1001"}, {"id": "1002"}])
    assert type(first).__name__ == "BatchResponsePublicAssociationMultiWithLabel"
    by_deal = {result._from.id: result for result in first.results}
    assert [t.to_object_id for t in by_deal["1002"].to] == ["5007", "5003"] and by_deal["1002"].paging is None
    kind = by_deal["1002"].to[0].association_types[0]
    assert (kind.category, kind.type_id, kind.label) == ("HUBSPOT_DEFINED", 3, None)
    collected, cursor = [t.to_object_id for t in by_deal["1001"].to], by_deal["1001"].paging.next.after
    while cursor:
        page = read([{"id": "1001", "after": cursor}]).results[0]
        collected.extend(t.to_object_id for t in page.to)
        cursor = page.paging.next.after if page.paging else None
    assert collected == [str(5000 + n) for n in range(1_200)]

    partial = read([{"id": "1002"}, {"id": "1003"}, {"id": "777"}])
    assert type(partial).__name__ == "BatchResponsePublicAssociationMultiWithLabelWithErrors"
    assert [r._from.id for r in partial.results] == ["1002"] and partial.num_errors == 2
    assert {e.sub_category for e in partial.errors} == {"crm.associations.NO_ASSOCIATIONS_FOUND"}
    assert [e.context["fromObjectId"] for e in partial.errors] == [["1003"], ["777"]]
    too_many = apis.http.post("/crm/v4/associations/0-3/0-1/batch/read",
                              json={"inputs": [{"id": str(n)} for n in range(1_001)]})
    assert too_many.status_code == 400


def test_properties_by_name_list_and_404(apis: Apis) -> None:
    amount = apis.properties.get_by_name("deals", "amount")
    assert (amount.name, amount.type, amount.field_type, amount.hubspot_defined) == ("amount", "number", "number", True)
    epik = apis.properties.get_by_name("deals", "pinterest_epik")
    assert (epik.type, epik.hubspot_defined) == ("string", False)
    assert apis.properties.get_by_name("contacts", "email").type == "string"
    names = [p.name for p in apis.properties.get_all("deals").results]
    assert "hs_lastmodifieddate" in names and "legacy_deal_id" in names
    with pytest.raises(PropertiesApiException) as raised:
        apis.properties.get_by_name("deals", "no_such_property")
    body = json.loads(raised.value.body)
    assert raised.value.status == 404 and body["category"] == "OBJECT_NOT_FOUND"
    assert "no_such_property" in body["message"]


def test_pipelines_with_string_stage_metadata(apis: Apis) -> None:
    pipelines = apis.pipelines.get_all("deals").results
    assert [(p.id, p.label) for p in pipelines] == [("default", "Sales Pipeline")]
    stages = {stage.id: stage for stage in pipelines[0].stages}
    assert stages["closedwon"].metadata == {"isClosed": "true", "probability": "1.0"}
    assert stages["closedlost"].metadata["isClosed"] == "true"
    assert stages["appointmentscheduled"].metadata["probability"] == "0.2"
    assert pipelines[0].stages[1].display_order == 1 and pipelines[0].created_at is not None
