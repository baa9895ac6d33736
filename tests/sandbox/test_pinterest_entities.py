"""Campaign, ad group and ad lists: bookmark paging, the spec's default ``entity_statuses`` and the id filters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.sandbox.test_pinterest_world import ACCOUNT_ID, PinterestClient, serve

ACCOUNT = f"/v5/ad_accounts/{ACCOUNT_ID}"
EVERY_STATUS = ["ACTIVE", "PAUSED", "ARCHIVED"]


def read_all(client: PinterestClient, endpoint: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Follow bookmarks to the end: (every item, number of pages)."""
    items, pages, bookmark = [], 0, None
    while True:
        response = client.get(endpoint, {**params, **({"bookmark": bookmark} if bookmark else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        pages += 1
        bookmark = body["bookmark"]
        if bookmark is None:
            return items, pages
        assert body["items"], "a page with a next bookmark must not be empty"


@pytest.mark.parametrize(("page_size", "order"), [(1, "ASCENDING"), (7, "DESCENDING"), (25, None), (250, None)])
def test_bookmark_paging_returns_every_matching_entity_exactly_once_in_id_order(
    sandbox_server: Any, tmp_path: Path, page_size: int, order: str | None
) -> None:
    _, world = serve(sandbox_server, tmp_path, campaigns=31, groups_per_campaign=1, ads_per_group=2, days=0)
    client = PinterestClient()
    params = {"entity_statuses": EVERY_STATUS, "page_size": page_size, **({"order": order} if order else {})}

    for endpoint, expected in (("campaigns", world.campaigns), ("ads", world.ads)):
        items, pages = read_all(client, f"{ACCOUNT}/{endpoint}", params)
        ids = [int(item["id"]) for item in items]
        assert ids == sorted((int(entity["id"]) for entity in expected), reverse=order == "DESCENDING")
        assert items == sorted(expected, key=lambda e: int(e["id"]), reverse=order == "DESCENDING")  # as stored
        assert pages == -(-len(expected) // page_size)


def test_without_entity_statuses_only_active_and_paused_entities_are_listed(
    sandbox_server: Any, tmp_path: Path
) -> None:
    _, world = serve(sandbox_server, tmp_path, campaigns=6, days=0)
    client = PinterestClient()

    for endpoint, entities in (("campaigns", world.campaigns), ("ad_groups", world.ad_groups), ("ads", world.ads)):
        listed, _ = read_all(client, f"{ACCOUNT}/{endpoint}", {"page_size": 250})
        archived, _ = read_all(client, f"{ACCOUNT}/{endpoint}", {"entity_statuses": "ARCHIVED"})
        everything, _ = read_all(client, f"{ACCOUNT}/{endpoint}", {"entity_statuses": ",".join(EVERY_STATUS)})

        assert {e["id"] for e in listed} == {e["id"] for e in entities if e["status"] in ("ACTIVE", "PAUSED")}
        assert {e["id"] for e in archived} == {e["id"] for e in entities if e["status"] == "ARCHIVED"} != set()
        assert len(everything) == len(entities)  # the default loses the archived ones (and their spend)


def test_id_filters_select_children_of_the_given_campaigns_and_ad_groups(sandbox_server: Any, tmp_path: Path) -> None:
    _, world = serve(sandbox_server, tmp_path, campaigns=4, days=0)
    client = PinterestClient()
    campaigns = [world.campaigns[0]["id"], world.campaigns[2]["id"]]
    groups = [world.ad_groups[1]["id"]]
    every = {"entity_statuses": EVERY_STATUS, "page_size": 250}

    by_campaign, _ = read_all(client, f"{ACCOUNT}/ad_groups", {**every, "campaign_ids": campaigns})
    ads_by_group, _ = read_all(client, f"{ACCOUNT}/ads", {**every, "ad_group_ids": groups})
    one_ad, _ = read_all(client, f"{ACCOUNT}/ads", {**every, "ad_ids": world.ads[3]["id"]})
    campaign, _ = read_all(client, f"{ACCOUNT}/campaigns", {**every, "campaign_ids": campaigns[1]})

    assert {g["id"] for g in by_campaign} == {g["id"] for g in world.ad_groups if g["campaign_id"] in campaigns}
    assert {a["id"] for a in ads_by_group} == {a["id"] for a in world.ads if a["ad_group_id"] in groups}
    assert one_ad == [world.ads[3]]
    assert campaign == [world.campaigns[2]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 251}, "page_size"),
        ({"page_size": 0}, "page_size"),
        ({"order": "NEWEST"}, "order"),
        ({"entity_statuses": "LIVE"}, "entity_statuses"),
        ({"campaign_ids": [str(n) for n in range(1, 252)]}, "campaign_ids"),
        ({"campaign_ids": "12ab"}, "campaign_ids"),
        ({"bookmark": "not-a-bookmark"}, "bookmark"),
    ],
)
def test_invalid_list_parameters_are_answered_400_naming_the_parameter(
    sandbox_server: Any, tmp_path: Path, params: dict[str, Any], field: str
) -> None:
    serve(sandbox_server, tmp_path, days=0)

    response = PinterestClient().get(f"{ACCOUNT}/campaigns", params)

    assert response.status_code == 400
    assert response.json()["code"] == 1
    assert response.json()["message"].startswith(f"{field}")


def test_the_ad_account_answers_from_the_config_and_other_accounts_are_forbidden(
    sandbox_server: Any, tmp_path: Path
) -> None:
    serve(sandbox_server, tmp_path, days=0)
    client = PinterestClient()

    account = client.get(ACCOUNT).json()
    other = client.get("/v5/ad_accounts/549755885176/campaigns")

    assert (account["id"], account["currency"], account["country"]) == (ACCOUNT_ID, "EUR", "FR")
    assert other.status_code == 403
    assert other.json() == {"code": 29, "message": "You are not permitted to access that resource."}
