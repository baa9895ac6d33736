"""Conformance with the official Pinterest v5 description: every emulated operation is the spec's (path, method,
rate-limit category, limits), and the requests pin2deal sends and the answers it gets validate against it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.pinterest import routes
from tests.sandbox.test_pinterest_world import (
    ACCOUNT_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    CONVERSIONS_TOKEN,
    REFRESH_TOKEN,
    TODAY,
    PinterestClient,
    official_spec,
    serve,
)

ACCOUNT = f"/v5/ad_accounts/{ACCOUNT_ID}"
WEEK = {"start_date": (TODAY - dt.timedelta(days=7)).isoformat(), "end_date": TODAY.isoformat()}
COLUMNS = "SPEND_IN_MICRO_DOLLAR,PAID_IMPRESSION,TOTAL_CLICKTHROUGH,TOTAL_CHECKOUT,SPEND_IN_DOLLAR,CTR"

# Every test here checks the emulator against the official description.
pytestmark = pytest.mark.pinterest_spec


def as_query(params: dict[str, Any]) -> dict[str, list[str]]:
    """The query string a client sends for ``params`` (lists as repeated keys), as the server receives it."""
    return {
        name: [str(item) for item in value] if isinstance(value, list) else [str(value)]
        for name, value in params.items()
    }


def check(operation_id: str, path_params: dict[str, str], params: dict[str, Any], body: Any, response: Any) -> None:
    """The request is valid for the operation and the response matches the schema of its status."""
    spec = official_spec()
    operation = spec.operation(operation_id)
    operation.validate_parameters(path_params, as_query(params))
    if operation.body_schema is not None and operation.body_media_type == "application/json":
        operation.validate_body(body)
    schema = operation.response_schema(response.status_code)
    assert schema is not None, f"{operation_id}: the spec has no response {response.status_code}"
    spec.validate(schema, response.json())


def test_every_route_is_the_specs_operation_with_its_rate_limit_category() -> None:
    spec = official_spec()
    for route in routes.ROUTES:
        operation = spec.operation(route.operation_id)
        assert (route.method, route.path) == (operation.method, "/v5" + operation.path), route.operation_id
        assert route.category == operation.category, route.operation_id


def test_the_handlers_limits_and_defaults_are_the_specs() -> None:
    spec = official_spec()
    listing = {parameter.name: spec.resolve(parameter.schema) for parameter in spec.operation("ads/list").parameters}
    analytics = {p.name: spec.resolve(p.schema) for p in spec.operation("campaigns/analytics").parameters}
    events = spec.resolve(spec.resolve(spec.operation("events/create").body_schema)["properties"]["data"])

    assert listing["page_size"]["default"] == routes.DEFAULT_PAGE_SIZE
    assert listing["page_size"]["maximum"] == routes.MAX_PAGE_SIZE
    assert tuple(listing["entity_statuses"]["default"]) == routes.DEFAULT_ENTITY_STATUSES  # ACTIVE, PAUSED only
    assert tuple(spec.resolve(listing["entity_statuses"]["items"])["enum"]) == routes.ENTITY_STATUSES
    assert listing["ad_ids"]["maxItems"] == analytics["campaign_ids"]["maxItems"] == routes.MAX_IDS
    assert events["maxItems"] == routes.MAX_EVENTS


def test_requests_and_answers_of_every_operation_validate(sandbox_server: Any, tmp_path: Path) -> None:
    spec = official_spec()
    server, world = serve(sandbox_server, tmp_path)
    client = PinterestClient()
    campaign, group, ad = world.campaigns[0], world.ad_groups[0], world.ads[0]
    path = {"ad_account_id": ACCOUNT_ID}
    gets = [
        ("ad_accounts/get", ACCOUNT, {}),
        ("campaigns/list", f"{ACCOUNT}/campaigns", {"page_size": 2, "entity_statuses": ["ACTIVE", "ARCHIVED"]}),
        ("ad_groups/list", f"{ACCOUNT}/ad_groups", {"campaign_ids": [campaign["id"]], "order": "DESCENDING"}),
        ("ads/list", f"{ACCOUNT}/ads", {"ad_group_ids": [group["id"]], "entity_statuses": ["ARCHIVED", "PAUSED"]}),
        ("ad_account/analytics", f"{ACCOUNT}/analytics", {**WEEK, "granularity": "DAY", "columns": COLUMNS}),
        (
            "campaigns/analytics",
            f"{ACCOUNT}/campaigns/analytics",
            {
                **WEEK,
                "granularity": "DAY",
                "columns": COLUMNS,
                "campaign_ids": [campaign["id"]],
                "click_window_days": 7,
                "view_window_days": 1,
                "conversion_report_time": "TIME_OF_AD_ACTION",
            },
        ),
        (
            "ad_groups/analytics",
            f"{ACCOUNT}/ad_groups/analytics",
            {**WEEK, "granularity": "TOTAL", "columns": COLUMNS, "ad_group_ids": [group["id"]]},
        ),
        (
            "ads/analytics",
            f"{ACCOUNT}/ads/analytics",
            {**WEEK, "granularity": "WEEK", "columns": COLUMNS + ",AD_NAME,PIN_ID", "ad_ids": [ad["id"]]},
        ),
        ("metrics_ready_state/get", "/v5/resources/metrics_ready_state", {"date": TODAY.isoformat()}),
    ]
    for operation_id, endpoint, params in gets:
        response = client.get(endpoint, params)
        assert response.status_code == 200, (operation_id, response.text)
        check(operation_id, path, params, None, response)

    report = {
        **WEEK,
        "level": "CAMPAIGN",
        "granularity": "DAY",
        "columns": COLUMNS.split(","),
        "report_format": "JSON",
        "campaign_ids": [campaign["id"]],
    }
    created = client.post(f"{ACCOUNT}/reports", report)
    check("analytics/create_report", path, {}, report, created)
    for _ in range(routes.REPORT_POLLS_IN_PROGRESS + 1):
        status = client.get(f"{ACCOUNT}/reports", {"token": created.json()["token"]})
        check("analytics/get_report", path, {"token": created.json()["token"]}, None, status)
    assert status.json()["report_status"] == "FINISHED"

    now = int(server.app.state.sandbox.now().timestamp())
    events = {
        "data": [
            {
                "event_name": "checkout",
                "action_source": "offline",
                "event_time": now - 3600,
                "event_id": "won_1",
                "user_data": {"em": ["a" * 64], "click_id": "dj0yJnU9epik"},
                "custom_data": {"currency": "EUR", "value": "1200.50", "order_id": "1"},
            }
        ]
    }
    sent = client.post(f"{ACCOUNT}/events", events, token=CONVERSIONS_TOKEN)
    check("events/create", path, {}, events, sent)
    # The Event Quality Score of the event just received: one object, its platform's, every component of the spec.
    quality = client.get(f"{ACCOUNT}/conversion_eqs", {"lookback_period": "14d"})
    check("conversion_eqs/list", path, {"lookback_period": "14d"}, None, quality)
    (score,) = quality.json()
    components = spec.resolve(spec.document["components"]["schemas"]["QualityComponents"])["properties"]
    assert (score["source_platform"], score["ingestion_source"]) == ("OFFLINE", "CONVERSIONS_API")
    assert set(score["quality_components"]) == set(components)
    assert score["quality_components"]["click_id_epik"] == {"checkout": {"coverage": 100.0}}
    assert score["quality_components"]["ip_address"] == {"checkout": {"coverage": 0.0}}

    form = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}
    spec.operation("oauth/token").validate_body(form)
    refreshed = httpx.post(f"{server.url}/v5/oauth/token", data=form, auth=(CLIENT_ID, CLIENT_SECRET))
    check("oauth/token", {}, {}, None, refreshed)

    covered = {operation_id for operation_id, _, _ in gets} | {
        "analytics/create_report",
        "analytics/get_report",
        "events/create",
        "conversion_eqs/list",
        "oauth/token",
    }
    assert covered == {route.operation_id for route in routes.ROUTES}


@pytest.mark.parametrize(
    ("operation_id", "method", "endpoint", "params", "body", "token", "status"),
    [
        ("campaigns/list", "GET", f"{ACCOUNT}/campaigns", {"page_size": 0}, None, None, 400),
        ("campaigns/list", "GET", f"{ACCOUNT}/campaigns", {}, None, "not-a-token", 401),
        ("campaigns/list", "GET", "/v5/ad_accounts/1234/campaigns", {}, None, None, 403),
        (
            "campaigns/analytics",
            "GET",
            f"{ACCOUNT}/campaigns/analytics",
            {**WEEK, "granularity": "DAY"},
            None,
            None,
            400,
        ),
        ("ad_accounts/get", "GET", ACCOUNT, {}, None, CONVERSIONS_TOKEN, 401),
        ("events/create", "POST", f"{ACCOUNT}/events", {}, {"data": []}, CONVERSIONS_TOKEN, 400),
        ("events/create", "POST", f"{ACCOUNT}/events", {}, {"data": [{"event_name": "checkout"}]}, "nope", 401),
        ("analytics/create_report", "POST", f"{ACCOUNT}/reports", {}, {"level": "CAMPAIGN"}, None, 400),
        ("conversion_eqs/list", "GET", f"{ACCOUNT}/conversion_eqs", {"lookback_period": "7d"}, None, None, 400),
        ("conversion_eqs/list", "GET", f"{ACCOUNT}/conversion_eqs", {}, None, None, 400),
        ("conversion_eqs/list", "GET", f"{ACCOUNT}/conversion_eqs", {"lookback_period": "1d"}, None,
         CONVERSIONS_TOKEN, 401),
        ("conversion_eqs/list", "GET", "/v5/ad_accounts/1234/conversion_eqs", {"lookback_period": "1d"}, None,
         None, 403),
    ],
)
def test_error_answers_have_the_specs_shape(
    sandbox_server: Any,
    tmp_path: Path,
    operation_id: str,
    method: str,
    endpoint: str,
    params: dict[str, Any],
    body: Any,
    token: str | None,
    status: int,
) -> None:
    serve(sandbox_server, tmp_path)
    client = PinterestClient()

    if method == "GET":
        response = client.get(endpoint, params, token=token)
    else:
        response = client.post(endpoint, body, token=token)

    assert response.status_code == status, response.text
    spec = official_spec()
    spec.validate(spec.operation(operation_id).response_schema(status), response.json())
    assert set(response.json()) == {"code", "message"}
