"""The HubSpot emulator's edge: auth, the two rate-limit budgets and their 429s/headers, and the seeded faults,
as the real ``hubspot-api-client`` (and urllib3 under it) meets them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3
from hubspot.crm.deals import ApiException, PublicObjectSearchRequest

from sandbox.settings import FaultRates, HubSpotLimits
from tests.sandbox.test_hubspot_api import Apis
from tests.sandbox.test_hubspot_world import TOKEN, deal, save_world

Start = Callable[..., Any]
NO_RETRY = urllib3.Retry(0)  # urllib3's default Retry would sleep Retry-After and retry a GET's 429 by itself


@pytest.fixture
def world(tmp_path: Path) -> Path:
    return save_world(tmp_path, [deal(n) for n in range(1, 21)])


def _search(apis: Apis):
    return apis.search.do_search(public_object_search_request=PublicObjectSearchRequest(limit=5))


def test_a_wrong_or_missing_token_is_401_with_hubspots_body(world: Path, sandbox_server: Start) -> None:
    server = sandbox_server(world)
    with pytest.raises(ApiException) as raised:
        Apis(server.url, token="pat-na1-wrong").deals.get_page(limit=1)
    body = json.loads(raised.value.body)
    assert raised.value.status == 401
    assert (body["status"], body["category"]) == ("error", "INVALID_AUTHENTICATION")
    assert body["message"].startswith("Authentication credentials not found.")
    assert uuid.UUID(body["correlationId"])
    assert raised.value.headers["X-HubSpot-Correlation-Id"] == body["correlationId"]
    assert httpx.get(f"{server.url}/crm/v3/pipelines/deals").status_code == 401


def test_the_ten_second_budget_answers_429_with_retry_after(world: Path, sandbox_server: Start) -> None:
    limits = HubSpotLimits(per_ten_seconds=3, search_per_second=50, daily=100)
    apis = Apis(sandbox_server(world, hubspot=limits).url, retry=NO_RETRY)
    remaining = []
    for _ in range(3):
        answer = apis.http.get("/crm/v3/objects/deals", params={"limit": 1})
        assert answer.status_code == 200
        remaining.append(answer.headers["X-HubSpot-RateLimit-Remaining"])
        assert answer.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert answer.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert remaining == ["2", "1", "0"] and answer.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "97"
    with pytest.raises(ApiException) as raised:
        apis.deals.get_page(limit=1)
    body = json.loads(raised.value.body)
    assert raised.value.status == 429
    assert body == {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT", "correlationId": body["correlationId"],
                    "policyName": "TEN_SECONDLY_ROLLING"}
    assert 1 <= int(raised.value.headers["Retry-After"]) <= 10
    assert _search(apis).total == 20  # searches are exempt from the 10-second budget


def test_the_search_budget_is_per_second_without_headers(world: Path, sandbox_server: Start) -> None:
    apis = Apis(sandbox_server(world, hubspot=HubSpotLimits(per_ten_seconds=100, search_per_second=2)).url)
    for _ in range(2):
        answer = apis.http.post("/crm/v3/objects/deals/search", json={"limit": 1})
        assert answer.status_code == 200
        assert not [name for name in answer.headers if name.lower().startswith("x-hubspot-ratelimit")]
    with pytest.raises(ApiException) as raised:
        _search(apis)
    body = json.loads(raised.value.body)
    assert raised.value.status == 429 and body["policyName"] == "SECONDLY" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your secondly limit." and "Retry-After" not in raised.value.headers
    assert apis.deals.get_page(limit=1).results  # the 10-second budget is untouched by searches


def test_the_daily_budget(world: Path, sandbox_server: Start) -> None:
    limits = HubSpotLimits(per_ten_seconds=100, search_per_second=10, daily=2)
    apis = Apis(sandbox_server(world, hubspot=limits).url, retry=NO_RETRY)
    _search(apis)
    apis.deals.get_page(limit=1)
    with pytest.raises(ApiException) as raised:
        apis.deals.get_page(limit=1)
    assert raised.value.status == 429 and json.loads(raised.value.body)["policyName"] == "DAILY"


def test_without_rate_limits_there_are_no_429s_nor_headers(world: Path, sandbox_server: Start) -> None:
    apis = Apis(sandbox_server(world, rate_limits=False, hubspot=HubSpotLimits(per_ten_seconds=1)).url)
    for _ in range(5):
        answer = apis.http.get("/crm/v3/objects/deals", params={"limit": 1})
        assert answer.status_code == 200 and "X-HubSpot-RateLimit-Max" not in answer.headers


def _statuses(url: str, count: int) -> list[int]:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        return [http.get("/crm/v3/objects/deals", params={"limit": 1}).status_code for _ in range(count)]


def test_faults_replay_for_a_seed(world: Path, sandbox_server: Start) -> None:
    rates = FaultRates(server_error=0.3, rate_limit_burst=0.1, burst_length=2)
    first = _statuses(sandbox_server(world, seed=11, rate_limits=False, faults=rates).url, 40)
    again = _statuses(sandbox_server(world, seed=11, rate_limits=False, faults=rates).url, 40)
    other = _statuses(sandbox_server(world, seed=12, rate_limits=False, faults=rates).url, 40)
    assert first == again and first != other
    assert {200, 429} <= set(first) and set(first) & {500, 502, 503}


def test_server_errors_have_the_edges_shapes(world: Path, sandbox_server: Start) -> None:
    url = sandbox_server(world, rate_limits=False, faults=FaultRates(server_error=1.0)).url
    shapes = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for _ in range(30):
            answer = http.get("/crm/v3/objects/deals")
            shapes[answer.status_code] = answer
    assert set(shapes) == {500, 502, 503}
    assert shapes[500].json()["message"] == "internal error" and shapes[500].json()["status"] == "error"
    assert "<h1>502 Bad Gateway</h1>" in shapes[502].text
    assert shapes[502].headers["content-type"].startswith("text/html")
    assert "503 Service Temporarily Unavailable" in shapes[503].text


def test_a_rate_limit_burst_fault(world: Path, sandbox_server: Start) -> None:
    url = sandbox_server(world, faults=FaultRates(rate_limit_burst=1.0, retry_after_seconds=4)).url
    with pytest.raises(ApiException) as raised:
        Apis(url, retry=NO_RETRY).deals.get_page(limit=1)
    assert raised.value.status == 429 and raised.value.headers["Retry-After"] == "4"
    assert json.loads(raised.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"


def test_a_dropped_connection_is_a_connection_error_not_an_api_exception(world: Path, sandbox_server: Start) -> None:
    apis = Apis(sandbox_server(world, faults=FaultRates(drop_connection=1.0)).url)
    with pytest.raises(urllib3.exceptions.ProtocolError, match="Connection aborted"):
        _search(apis)  # a POST: urllib3 does not retry it
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        apis.deals.get_page(limit=1)  # a GET: urllib3's default Retry tries again, and every try is dropped


def test_a_hang_ends_with_the_clients_read_timeout(world: Path, sandbox_server: Start) -> None:
    apis = Apis(sandbox_server(world, faults=FaultRates(hang=1.0, hang_seconds=0.5)).url)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        apis.search.do_search(public_object_search_request=PublicObjectSearchRequest(limit=1), _request_timeout=0.2)
