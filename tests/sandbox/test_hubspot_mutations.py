"""The ``/_sandbox/hubspot/...`` mutations, observed through the real client as pin2deal would see them, and the
search index staying exact under them."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hubspot.crm.deals import BatchReadInputSimplePublicObjectId, PublicObjectSearchRequest

from sandbox.hubspot.search import parse_search, run_search
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.store import BATCH
from sandbox.hubspot.wire import iso_ms, parse_instant
from tests.sandbox.test_hubspot_api import MINUTE, Apis
from tests.sandbox.test_hubspot_world import BASE_MS, NOW, contact, deal, save_world, world

EVERYTHING = (0, 2**42)


@pytest.fixture
def served(tmp_path: Path, sandbox_server: Callable[..., Any]) -> tuple[Apis, Any]:
    """20 deals (1001..1020, deal n on contact 500(n % 3)), 3 contacts; rate limits off."""
    deals = [deal(n, contacts=[str(5000 + n % 3)]) for n in range(1, 21)]
    server = sandbox_server(save_world(tmp_path, deals, [contact(n) for n in range(3)]), rate_limits=False)
    return Apis(server.url), server


def _mutate(apis: Apis, path: str, body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    answer = apis.http.post(f"/_sandbox/hubspot/{path}", json=body or {})
    assert answer.status_code == status, answer.text
    return answer.json()


def _read(apis: Apis, *ids: str, properties: list[str] | None = None, id_property: str | None = None):
    return apis.deals_batch.read(batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
        inputs=[{"id": i} for i in ids], properties=properties, id_property=id_property))


def _window_ids(apis: Apis, low: int, high: int) -> list[str]:
    ids, after = [], None
    while True:
        page = apis.window(low, high, limit=3, after=after)
        ids.extend(record.id for record in page.results)
        if page.paging is None:
            return ids
        after = page.paging.next.after


def _now_ms(server: Any) -> int:
    return parse_instant(server.app.state.sandbox.now().isoformat())


def test_update_moves_the_deal_to_now_unless_told_otherwise(served: tuple[Apis, Any]) -> None:
    apis, server = served
    before = _now_ms(server)
    changed = _mutate(apis, "deals/1003/update", {"properties": {"amount": "999.5", "pinterest_epik": "abc"}})
    assert changed["properties"]["amount"] == "999.5"
    moved = parse_instant(changed["properties"]["hs_lastmodifieddate"])
    assert before <= moved <= _now_ms(server) and changed["updatedAt"] == iso_ms(moved)
    assert _window_ids(apis, moved, moved + 1) == ["1003"]
    assert "1003" not in _window_ids(apis, BASE_MS, BASE_MS + 21 * MINUTE)
    _mutate(apis, "deals/1004/update", {"properties": {"dealname": "Quiet"}, "bumpModified": False})
    _mutate(apis, "deals/1005/update", {"properties": {}, "modifiedAt": "2025-06-02T00:00:00Z"})
    record = _read(apis, "1004", "1005", properties=["dealname"]).results
    by_id = {r.id: r for r in record}
    assert by_id["1004"].properties["dealname"] == "Quiet"
    assert by_id["1004"].properties["hs_lastmodifieddate"] == iso_ms(BASE_MS + 4 * MINUTE)
    assert by_id["1005"].properties["hs_lastmodifieddate"] == "2025-06-02T00:00:00.000Z"
    error = _mutate(apis, "deals/1006/update", {"properties": {"amount": 5}}, status=400)
    assert error["category"] == "VALIDATION_ERROR" and "'amount'" in error["message"]
    assert _mutate(apis, "deals/4242/update", {}, status=404)["category"] == "OBJECT_NOT_FOUND"


def test_close_won_sets_stage_flags_and_dates(served: tuple[Apis, Any]) -> None:
    apis, _ = served
    _mutate(apis, "deals/1007/close-won", {"closedAt": "2025-06-20T09:30:00Z"})
    wanted = ["dealstage", "hs_is_closed_won", "closedate", "hs_v2_date_entered_closedwon"]
    won = _read(apis, "1007", properties=wanted).results[0].properties
    assert won["dealstage"] == "closedwon" and won["hs_is_closed_won"] == "true"
    assert won["closedate"] == won["hs_v2_date_entered_closedwon"] == "2025-06-20T09:30:00.000Z"
    search = PublicObjectSearchRequest(filter_groups=[{"filters": [
        {"propertyName": "hs_is_closed_won", "operator": "EQ", "value": "true"}]}])
    assert [r.id for r in apis.search.do_search(public_object_search_request=search).results] == ["1007"]
    assert "no closed-won stage" in _mutate(apis, "deals/1008/close-won", {"stageId": "closedlost"}, 400)["message"]


def test_association_changes_do_not_touch_the_modified_date(served: tuple[Apis, Any]) -> None:
    apis, _ = served
    assert _mutate(apis, "deals/1009/associations", {"contacts": ["5001", "5002"], "mode": "add"})["contacts"] == [
        "5000", "5001", "5002"]
    _mutate(apis, "deals/1010/associations", {"contacts": []})
    page = apis.associations.get_page("deals", "contacts", batch_input_public_fetch_associations_batch_request={
        "inputs": [{"id": "1009"}, {"id": "1010"}]})
    assert [t.to_object_id for t in page.results[0].to] == ["5000", "5001", "5002"]
    assert page.errors[0].context["fromObjectId"] == ["1010"]
    assert _window_ids(apis, BASE_MS + 9 * MINUTE, BASE_MS + 11 * MINUTE) == ["1009", "1010"]
    assert "unknown contact ids" in _mutate(apis, "deals/1009/associations", {"contacts": ["77"]}, 400)["message"]


def test_archive_hides_the_deal_but_lists_it_as_archived(served: tuple[Apis, Any]) -> None:
    apis, _ = served
    archived = _mutate(apis, "deals/1011/archive")
    assert archived["archived"] is True and archived["archivedAt"]
    assert "1011" not in _window_ids(apis, *EVERYTHING)
    assert [r.id for r in apis.deals.get_page(archived=True).results] == ["1011"]
    assert "1011" not in [r.id for r in apis.deals.get_page(limit=100).results]
    assert _read(apis, "1011").errors[0].context == {"ids": ["1011"]}


def test_merge_keeps_the_primary_and_redirects_the_merged_id(served: tuple[Apis, Any]) -> None:
    apis, server = served
    _mutate(apis, "deals/1013/update", {"properties": {"pinterest_epik": "from-13"}, "bumpModified": False})
    merged = _mutate(apis, "deals/merge", {"primaryObjectId": "1012", "objectIdToMerge": "1013"})
    assert merged["id"] == "1012" and merged["properties"]["hs_merged_object_ids"] == "1013"
    assert merged["properties"]["pinterest_epik"] == "from-13"
    assert merged["associations"]["contacts"] == ["5000", "5001"]
    assert parse_instant(merged["properties"]["hs_lastmodifieddate"]) >= BASE_MS + 30 * MINUTE
    ids = [r.id for r in apis.deals.get_page(limit=100).results]
    assert "1013" not in ids and "1012" in ids
    assert [r.id for r in _read(apis, "1013").results] == ["1012"]  # the merged id resolves to the survivor
    _mutate(apis, "deals/merge", {"primaryObjectId": "1012", "objectIdToMerge": "1014"})
    assert _read(apis, "1012", properties=["hs_merged_object_ids"]).results[0].properties[
        "hs_merged_object_ids"] == "1013;1014"
    # A migration's import re-creates the survivor: a new record that was never merged (the ids are read-only).
    survivor = _mutate(apis, "deals/re-id", {"ids": ["1012"]})["ids"]["1012"]
    values = _read(apis, survivor, properties=["hs_merged_object_ids", "pinterest_epik"]).results[0].properties
    assert (values.get("hs_merged_object_ids"), values["pinterest_epik"]) == (None, "from-13")


def test_re_id_keeps_the_old_id_in_the_legacy_property(served: tuple[Apis, Any]) -> None:
    apis, server = served
    mapping = _mutate(apis, "deals/re-id", {"ids": ["1001", "1002"], "firstId": 900000})["ids"]
    assert mapping == {"1001": "900000", "1002": "900001"}
    assert _read(apis, "1001").errors[0].context == {"ids": ["1001"]}
    moved = _read(apis, "900000", properties=["legacy_deal_id", "amount"]).results[0]
    assert (moved.properties["legacy_deal_id"], moved.properties["hs_object_id"], moved.properties["amount"]) == (
        "1001", "900000", "100")
    by_legacy = _read(apis, "1002", id_property="legacy_deal_id").results
    assert [r.id for r in by_legacy] == ["900001"]
    now = _now_ms(server)
    assert sorted(_window_ids(apis, now - 60_000, now + 1)) == ["900000", "900001"]
    page = apis.associations.get_page("deals", "contacts", batch_input_public_fetch_associations_batch_request={
        "inputs": [{"id": "900000"}]})
    assert [t.to_object_id for t in page.results[0].to] == ["5001"]
    everything = _mutate(apis, "deals/re-id")["ids"]
    assert len(everything) == 20 and min(int(i) for i in everything.values()) == 900002


def test_re_id_gives_the_import_instant_as_stage_entry_and_createdate_unless_kept(served: tuple[Apis, Any]) -> None:
    apis, server = served
    won_at = "2025-05-20T15:00:00.000Z"
    for deal_id in ("1003", "1004"):
        _mutate(apis, f"deals/{deal_id}/close-won", {"closedAt": won_at})
    _mutate(apis, "deals/1004/update", {"properties": {"hs_v2_date_entered_appointmentscheduled": won_at}})
    created = {deal_id: _read(apis, deal_id, properties=["createdate"]).results[0].properties["createdate"]
               for deal_id in ("1003", "1004")}  # fmt: skip

    moved = _mutate(apis, "deals/re-id", {"ids": ["1003"], "firstId": 900000})["ids"]
    kept = _mutate(apis, "deals/re-id", {"ids": ["1004"], "keepCreateDate": True})["ids"]
    imported = _now_ms(server)

    names = ["createdate", "closedate", "dealstage", "hs_v2_date_entered_closedwon",
             "hs_v2_date_entered_appointmentscheduled", "legacy_deal_id"]  # fmt: skip
    for old, new, createdate in (("1003", moved["1003"], None), ("1004", kept["1004"], created["1004"])):
        record = _read(apis, new, properties=names).results[0]
        values = record.properties
        entered = parse_instant(values["hs_v2_date_entered_closedwon"])
        assert imported - 60_000 < entered <= imported, "the import's instant, not the old win"
        assert values.get("hs_v2_date_entered_appointmentscheduled") is None, "no other stage history"
        assert (values["closedate"], values["dealstage"], values["legacy_deal_id"]) == (won_at, "closedwon", old)
        assert parse_instant(record.created_at.isoformat()) == entered, "the record is created by the import"
        if createdate is None:
            assert parse_instant(values["createdate"]) == entered
        else:
            assert values["createdate"] == createdate, "mapped by the importer"
    _mutate(apis, "deals/re-id", {"keepCreateDate": "yes"}, status=400)


def test_bulk_touch_gives_identical_dates_and_paging_stays_exact(served: tuple[Apis, Any]) -> None:
    apis, _ = served
    touched = _mutate(apis, "deals/bulk-touch", {"count": 8, "modifiedAt": "1749000000000"})
    assert touched == {"ids": [str(1000 + n) for n in range(1, 9)], "modifiedAt": iso_ms(1749000000000)}
    assert _window_ids(apis, 1749000000000, 1749000000001) == touched["ids"]  # pages of 3 over ties: no dup, no loss
    assert _window_ids(apis, *EVERYTHING) == [str(1000 + n) for n in range(9, 21)] + touched["ids"]
    keyset, last = [], 0  # or page the ties by id, above the last id seen
    while True:
        request = PublicObjectSearchRequest(limit=3, filter_groups=[{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1749000000000"},
            {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": "1749000000001"},
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)}]}],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}])
        page = apis.search.do_search(public_object_search_request=request).results
        if not page:
            break
        keyset.extend(record.id for record in page)
        last = int(page[-1].id)
    assert keyset == touched["ids"]


def test_add_deals_in_the_dataset_format(served: tuple[Apis, Any]) -> None:
    apis, _ = served
    added = _mutate(apis, "deals", {"contacts": [contact(9)], "deals": [deal(30, contacts=["5009"])]}, status=201)
    assert added == {"deals": ["1030"], "contacts": ["5009"]}
    assert _read(apis, "1030", properties=["dealname"]).results[0].properties["dealname"] == "Deal 30"
    assert _window_ids(apis, BASE_MS + 30 * MINUTE, BASE_MS + 31 * MINUTE) == ["1030"]
    error = _mutate(apis, "deals", {"deals": [deal(31), {"id": "x1", "createdAt": "2025-06-01T00:00:00Z"}]}, 400)
    assert error["message"] == "deals[1]: field 'id' must be a numeric string, got 'x1'"
    assert _mutate(apis, "deals", {"deals": [deal(30)]}, 400)["message"].endswith("this id already exists")
    assert _read(apis, "1031").errors  # all or nothing: deal 31 was not added


def _expected(state: HubSpotState, low: int, high: int) -> list[str]:
    active = [r for r in state.deals.records.values() if not r.archived]
    window = [r for r in active if low <= parse_instant(r.properties["hs_lastmodifieddate"]) < high]
    return [r.id for r in sorted(window, key=lambda r: (parse_instant(r.properties["hs_lastmodifieddate"]), r.key))]


def test_the_modified_index_stays_exact_under_random_mutations() -> None:
    rows = [deal(n, modified_ms=BASE_MS + (n % 40) * MINUTE) for n in range(1, 601)]
    clock = [NOW]
    state = HubSpotState(world(rows), lambda: clock[0])
    chooser = random.Random(3)
    for step in range(400):
        live = [str(key) for key in state.deals.active_ids]
        action = chooser.randrange(6)
        if action == 0:
            state.update_deal(chooser.choice(live), {"modifiedAt": str(BASE_MS + chooser.randrange(60) * MINUTE)})
        elif action == 1:
            state.archive(chooser.choice(live), {})
        elif action == 2 and len(live) > 2:
            first, second = chooser.sample(live, 2)
            state.merge({"primaryObjectId": first, "objectIdToMerge": second})
        elif action == 3:  # now and then a batch big enough to take the one-pass path
            state.re_id({"ids": chooser.sample(live, 3 if step % 50 else min(len(live), 260))})
        elif action == 4:
            size = 5 if step % 40 else min(len(live), 260)
            state.bulk_touch({"ids": chooser.sample(live, size), "modifiedAt": str(BASE_MS + 7 * MINUTE)})
        else:
            state.add_records({"deals": [deal(100_000 - step, modified_ms=BASE_MS + chooser.randrange(60) * MINUTE)]})
    live = [str(key) for key in state.deals.active_ids]
    assert len(live) > BATCH + 10
    state.bulk_touch({"ids": live[: BATCH + 10], "modifiedAt": str(BASE_MS + 7 * MINUTE)})  # one-pass paths
    state.re_id({"ids": live[-(BATCH + 10):]})
    assert len(state.deals.by_modified) == len(state.deals.active_ids)
    for low, high in ((BASE_MS, BASE_MS + 10 * MINUTE), (BASE_MS + 7 * MINUTE, BASE_MS + 8 * MINUTE),
                      (0, NOW.timestamp() * 1000 + 1)):
        body = {"filterGroups": [{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": str(low)},
            {"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": str(int(high))}]}],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}], "limit": 200}
        expected = _expected(state, low, int(high))
        found, after = [], 0
        while True:
            total, page = run_search(state.deals, parse_search(state.deals, {**body, "after": str(after)}))
            assert total == len(expected)
            found.extend(record.id for record in page)
            after += len(page)
            if after >= total:
                break
        assert found == expected
    tied, keyset, last = _expected(state, BASE_MS + 7 * MINUTE, BASE_MS + 7 * MINUTE + 1), [], 0
    while True:  # the hook's way through ties: one instant, ids above the last seen, by id
        body = {"filterGroups": [{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": str(BASE_MS + 7 * MINUTE)},
            {"propertyName": "hs_object_id", "operator": "GT", "value": str(last)}]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}], "limit": 2}
        total, page = run_search(state.deals, parse_search(state.deals, body))
        assert total == len(tied) - len(keyset)
        if not page:
            break
        keyset.extend(record.id for record in page)
        last = page[-1].key
    assert len(tied) > 5 and keyset == tied
