"""The sandbox refuses a broken dataset (HubSpot records, config, Pinterest entities) at load, naming file, line
and field; HubSpot's own properties keep HubSpot's types; the search index lag option hides fresh changes for its
duration."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from sandbox.dataset import Dataset
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings

CONFIG = {"hubspot_token": "pat-na1-t", "pinterest_ads_token": "a", "pinterest_conversions_token": "c",
          "ad_account_id": "1", "currency": "USD", "timezone": "UTC", "today": "2025-06-30", "properties": {}}


def _deal(deal_id: int, modified: str = "2025-06-10T09:00:00.000Z", **props) -> dict:
    return {"id": str(deal_id), "properties": {"hs_lastmodifieddate": modified, "amount": "1", **props},
            "createdAt": "2025-06-01T00:00:00.000Z", "updatedAt": modified, "archived": False}


def _write(root: Path, deals: list[dict], properties: dict | None = None, blank_lines: int = 0) -> Path:
    Dataset(config=CONFIG, properties=properties or {"deals": [], "contacts": []}).save(root)
    lines = [""] * blank_lines + [json.dumps(deal) for deal in deals]
    (root / "hubspot" / "deals.jsonl").write_text("\n".join(lines) + "\n")
    return root


def _serve(root: Path, **settings) -> SandboxServer:
    return SandboxServer(SandboxSettings(data_dir=root, rate_limits=False, **settings))


@pytest.mark.parametrize(
    ("deals", "message"),
    [
        ([_deal(1), _deal(2, modified="last tuesday")],
         r"hubspot/deals.jsonl line 4 \(id '2'\): property 'hs_lastmodifieddate' is not an ISO-8601"),
        ([_deal(1), _deal(2, closedate="31/12/2025")], r"line 4 \(id '2'\): property 'closedate'"),
        ([_deal(1), {**_deal(2), "id": "D-2"}], r"line 4: field 'id' must be a numeric string, got 'D-2'"),
        ([_deal(1), {**_deal(2), "createdAt": "soon"}], r"line 4 \(id '2'\): field 'createdAt' is not an ISO"),
        ([_deal(1), {**_deal(2), "properties": {"amount": [1]}}], r"line 4 \(id '2'\): property 'amount'"),
    ],
)
def test_a_broken_record_is_named_by_file_line_and_field(tmp_path: Path, deals, message) -> None:
    root = _write(tmp_path, deals, blank_lines=2)
    with pytest.raises(ValueError, match=message):
        SandboxServer(SandboxSettings(data_dir=root))


def test_a_broken_config_or_json_file_is_named(tmp_path: Path) -> None:
    root = _write(tmp_path, [_deal(1)])
    (root / "hubspot" / "deals.jsonl").write_text(json.dumps(_deal(1)) + "\n{oops\n")
    with pytest.raises(ValueError, match=r"deals.jsonl:2: not a JSON value"):
        Dataset.load(root)
    (root / "config.json").write_text(json.dumps({**CONFIG, "today": "June 30"}))
    with pytest.raises(ValueError, match=r"config.json: field 'today' must be a date"):
        Dataset.load(root)
    (root / "config.json").write_text(json.dumps({**CONFIG, "hubspot_token": ""}))
    with pytest.raises(ValueError, match=r"config.json: field 'hubspot_token' is required"):
        Dataset.load(root)


@pytest.mark.parametrize(
    ("file", "records", "message"),
    [
        ("campaigns", [{"id": "626736533506", "name": "Spring"}, {"name": "no id"}],
         r"pinterest/campaigns.jsonl line 2: field 'id' must be a Pinterest id \(a string of digits\), got None"),
        ("ad_groups", [{"id": "2680", "campaign_id": 626736533506}],
         r"pinterest/ad_groups.jsonl line 1: field 'campaign_id' must be a Pinterest id .*got 626736533506"),
        ("ads", [{"id": "687", "ad_group_id": "AG-1"}],
         r"pinterest/ads.jsonl line 1: field 'ad_group_id' must be a Pinterest id .*got 'AG-1'"),
        ("ads", ["687"], r"pinterest/ads.jsonl line 1: must be a JSON object"),
    ],
)
def test_a_broken_pinterest_entity_is_named_by_file_line_and_field(tmp_path: Path, file, records, message) -> None:
    root = _write(tmp_path, [_deal(1)])
    (root / "pinterest" / f"{file}.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    with pytest.raises(ValueError, match=message):
        Dataset.load(root)


def test_hubspot_properties_keep_hubspots_types_whatever_properties_json_says(tmp_path: Path) -> None:
    mistyped = {"deals": [{"name": "hs_lastmodifieddate", "type": "string"}, {"name": "amount", "type": "string"},
                          {"name": "closedate", "type": "enumeration"}], "contacts": []}
    root = _write(tmp_path, [_deal(1, "2025-06-10T09:00:00.000Z", amount="900"),
                             _deal(2, "2025-06-10T10:00:00.000Z", amount="1000")], properties=mistyped)
    with _serve(root) as server:
        headers = {"Authorization": "Bearer pat-na1-t"}
        spec = httpx.get(f"{server.url}/crm/v3/properties/deals/hs_lastmodifieddate", headers=headers).json()
        assert spec["type"] == "datetime"
        body = {"filterGroups": [{"filters": [
            {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": "1749549600000"},
            {"propertyName": "amount", "operator": "GT", "value": "950"},
        ]}], "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]}
        answer = httpx.post(f"{server.url}/crm/v3/objects/deals/search", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert [deal["id"] for deal in answer.json()["results"]] == ["2"], "numbers compare as numbers"


def test_the_search_index_lag_hides_a_change_until_it_has_passed(tmp_path: Path) -> None:
    root = _write(tmp_path, [_deal(1), _deal(2)])
    with _serve(root, search_index_lag=1.5) as server:
        headers = {"Authorization": "Bearer pat-na1-t"}
        search = {"filterGroups": [{"filters": [{"propertyName": "amount", "operator": "EQ", "value": "1"}]}]}

        def found() -> list[str]:
            answer = httpx.post(f"{server.url}/crm/v3/objects/deals/search", json=search, headers=headers)
            return [deal["id"] for deal in answer.json()["results"]]

        assert found() == ["1", "2"], "the dataset is indexed from the start"
        httpx.post(f"{server.url}/_sandbox/hubspot/deals/2/update", json={"properties": {"dealname": "x"}})
        assert found() == ["1"]
        listed = httpx.get(f"{server.url}/crm/v3/objects/deals", headers=headers).json()["results"]
        assert [deal["id"] for deal in listed] == ["1", "2"], "only the search lags, not the list or reads"
        time.sleep(1.6)
        assert found() == ["1", "2"]
