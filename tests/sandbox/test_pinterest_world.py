"""Small Pinterest worlds for the sandbox tests (imported by the other ``test_pinterest_*`` modules), a client on
the HTTP provider's ``HttpHook``, the expected sums computed independently of the sandbox, and the tests of how
the dataset and the spec become the emulator's state."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from sandbox.dataset import Dataset
from sandbox.pinterest.analytics import Metrics
from sandbox.pinterest.spec import InvalidRequest, PinterestSpec, default_spec_path, load_spec, to_json_schema

ACCOUNT_ID = "549755885175"
TODAY = dt.date(2025, 6, 30)
ADS_TOKEN = "pina_sandbox_test_ads"
CONVERSIONS_TOKEN = "pinc_sandbox_test_conversions"
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "1484362", "sandbox-app-secret", "pinr.sandbox-test-refresh"
METRICS = ("SPEND_IN_MICRO_DOLLAR", "PAID_IMPRESSION", "TOTAL_CLICKTHROUGH", "TOTAL_CHECKOUT",
           "TOTAL_CLICK_CHECKOUT", "TOTAL_VIEW_CHECKOUT")  # fmt: skip
CONFIG = {
    "hubspot_token": "pat-na1-pinterest-tests", "pinterest_ads_token": ADS_TOKEN,
    "pinterest_conversions_token": CONVERSIONS_TOKEN, "ad_account_id": ACCOUNT_ID, "currency": "EUR",
    "timezone": "Europe/Paris", "today": TODAY.isoformat(),
    "pinterest_client_id": CLIENT_ID, "pinterest_client_secret": CLIENT_SECRET,
    "pinterest_refresh_token": REFRESH_TOKEN, "country": "FR",
    "properties": {name: name for name in (
        "epik", "utm_source", "utm_medium", "utm_campaign", "utm_content", "pinterest_campaign_id",
        "pinterest_ad_group_id", "pinterest_ad_id", "ads_consent", "ip_address", "user_agent", "legacy_deal_id")},
}  # fmt: skip
STATUSES = ("ACTIVE", "PAUSED", "ARCHIVED")
SUMMARY = {"ACTIVE": "RUNNING", "PAUSED": "PAUSED", "ARCHIVED": "ARCHIVED"}


def build_world(
    root: Path, *, campaigns: int = 3, groups_per_campaign: int = 2, ads_per_group: int = 2, days: int = 20
) -> Dataset:
    """Campaigns cycling ACTIVE/PAUSED/ARCHIVED, ad groups and ads under them (ids of varying digit counts), and
    one analytics row per ad per day from ``TODAY - days`` to ``TODAY + 1`` (tomorrow's row: not yet reported)."""
    world = Dataset(config=json.loads(json.dumps(CONFIG)))
    created = 1_700_000_000
    for c in range(campaigns):
        campaign_id = str(9_000 + c * 7) if c % 4 == 3 else str(626_736_533_500 + c)  # some short ids
        status = STATUSES[c % 3]
        world.campaigns.append({
            "id": campaign_id, "ad_account_id": ACCOUNT_ID, "name": f"Summer sale {c}", "status": status,
            "objective_type": "CONSIDERATION", "created_time": created + c, "updated_time": created + c,
            "type": "campaign", "summary_status": SUMMARY[status], "daily_spend_cap": None,
        })  # fmt: skip
        for g in range(groups_per_campaign):
            group_id = str(2_680_059_592_700 + c * 10 + g)
            group_status = STATUSES[(c + g) % 3]
            world.ad_groups.append({
                "id": group_id, "ad_account_id": ACCOUNT_ID, "campaign_id": campaign_id,
                "name": f"Audience {c}.{g}", "status": group_status, "budget_type": "DAILY",
                "budget_in_micro_currency": 20_000_000, "billable_event": "CLICKTHROUGH", "type": "adgroup",
                "created_time": created, "updated_time": created,
            })  # fmt: skip
            for a in range(ads_per_group):
                ad_id = str(687_195_905_900 + c * 100 + g * 10 + a)
                world.ads.append({
                    "id": ad_id, "ad_account_id": ACCOUNT_ID, "campaign_id": campaign_id, "ad_group_id": group_id,
                    "pin_id": str(5_000_000 + c * 100 + g * 10 + a), "name": f"Pin {c}.{g}.{a}",
                    "status": STATUSES[(c + g + a) % 3], "creative_type": "REGULAR", "type": "pinpromotion",
                    "review_status": "APPROVED", "created_time": created, "updated_time": created,
                })  # fmt: skip
                for offset in range(-days, 2):
                    day = TODAY + dt.timedelta(days=offset)
                    seed = (c * 37 + g * 11 + a * 5 + offset * 3) % 97 + 1
                    world.analytics.append({
                        "DATE": day.isoformat(), "AD_ID": ad_id, "AD_GROUP_ID": group_id, "CAMPAIGN_ID": campaign_id,
                        "SPEND_IN_MICRO_DOLLAR": seed * 123_457, "PAID_IMPRESSION": seed * 40 + 3,
                        "TOTAL_CLICKTHROUGH": seed + 7, "TOTAL_CHECKOUT": seed % 3, "TOTAL_CLICK_CHECKOUT": seed % 2,
                        "TOTAL_VIEW_CHECKOUT": seed % 3 - seed % 2,
                    })  # fmt: skip
    world.save(root)
    return world


def reported(value: int, day: dt.date, today: dt.date) -> int:
    """The documented late-data rule: the last two days and today are reported at 80 % (rounded down)."""
    return value * 4 // 5 if day >= today - dt.timedelta(days=2) else value


def expected_sums(
    world: Dataset, key: Callable[[dict[str, Any]], str | None], start: dt.date, end: dt.date, today: dt.date = TODAY
) -> dict[tuple[str, str], dict[str, int]]:
    """Per (entity id, DATE): each metric summed over the dataset's ad rows, as the API should report on ``today``."""
    sums: dict[tuple[str, str], dict[str, int]] = {}
    for row in world.analytics:
        day = dt.date.fromisoformat(row["DATE"])
        entity = key(row)
        if entity is None or not start <= day <= min(end, today):
            continue
        total = sums.setdefault((entity, row["DATE"]), dict.fromkeys(METRICS, 0))
        for metric in METRICS:
            total[metric] += reported(row[metric], day, today)
    return sums


class PinterestClient:
    """pin2deal's way in: the HTTP provider's ``HttpHook`` on the ``pinterest_ads_default`` connection (whose
    password is the bearer token), answering ``requests.Response``s whatever their status."""

    def __init__(self, conn_id: str = "pinterest_ads_default", token: str | None = None) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        self.conn_id = conn_id
        self._hook = HttpHook
        self.token = token or HttpHook.get_connection(conn_id).password

    def _run(self, method: str, endpoint: str, *, token: str | None, **kwargs: Any) -> requests.Response:
        hook = self._hook(method=method, http_conn_id=self.conn_id)
        headers = {"Authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        return hook.run(endpoint, headers=headers, extra_options={"check_response": False}, **kwargs)

    def get(self, endpoint: str, params: dict[str, Any] | None = None, token: str | None = None) -> requests.Response:
        return self._run("GET", endpoint, data=params, token=token)

    def post(
        self, endpoint: str, body: Any, params: dict[str, Any] | None = None, token: str | None = None
    ) -> requests.Response:
        if params:
            endpoint = f"{endpoint}?{urlencode(params, doseq=True)}"
        return self._run("POST", endpoint, json=body, token=token)


def serve(
    sandbox_server: Callable[..., Any], root: Path, settings: dict[str, Any] | None = None, **world_options: Any
) -> tuple[Any, Dataset]:
    """Build a world in ``root`` and serve it (rate limits off unless ``settings`` turn them on): (server, world)."""
    world = build_world(root, **world_options)
    return sandbox_server(root, **{"rate_limits": False, **(settings or {})}), world


def official_spec() -> PinterestSpec:
    """The official description (``$PIN2DEAL_PINTEREST_SPEC``, or ``make spec``'s download), parsed once."""
    loaded = load_spec()
    assert loaded is not None, f"the Pinterest OpenAPI description is missing at {default_spec_path()}"
    return loaded


# -- the world as the emulator reads it ---------------------------------------------------------------------------


def test_metrics_report_the_last_two_days_and_today_at_80_percent_and_hide_tomorrow(tmp_path: Path) -> None:
    world = build_world(tmp_path, campaigns=1, groups_per_campaign=1, ads_per_group=1, days=4)
    metrics = Metrics(world.analytics, world.ads)
    final = {dt.date.fromisoformat(row["DATE"]): {name: row[name] for name in METRICS} for row in world.analytics}
    days = [TODAY + dt.timedelta(days=offset) for offset in range(-4, 2)]

    now = {day: row for _, day, row in metrics.reported(days[0], days[-1], TODAY)}
    later = {day: row for _, day, row in metrics.reported(days[0], days[-1], TODAY + dt.timedelta(days=4))}

    assert sorted(now) == days[:-1]  # tomorrow has not happened yet
    assert now[days[0]] == final[days[0]] and now[days[1]] == final[days[1]]
    for day in days[2:5]:  # today - 2, today - 1, today
        assert now[day] == {name: value * 4 // 5 for name, value in final[day].items()}
    assert later == final  # four days on, all final (tomorrow included)


def test_restate_replaces_only_the_given_metrics_of_an_ad_day(tmp_path: Path) -> None:
    world = build_world(tmp_path, campaigns=1, groups_per_campaign=1, ads_per_group=1, days=4)
    metrics = Metrics(world.analytics, world.ads)
    ad_id, day = world.ads[0]["id"], TODAY - dt.timedelta(days=4)
    before = metrics.final(ad_id, day)

    after = metrics.restate(ad_id, day, {"SPEND_IN_MICRO_DOLLAR": 42})

    assert after == {**before, "SPEND_IN_MICRO_DOLLAR": 42}
    assert metrics.final(ad_id, day) == after


def test_an_analytics_row_without_date_is_refused_naming_the_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"analytics.jsonl line 2: needs AD_ID and DATE"):
        Metrics([{"DATE": "2025-06-01", "AD_ID": "1"}, {"AD_ID": "2"}], [])


# -- the spec as the emulator reads it ----------------------------------------------------------------------------


def test_openapi_nullable_and_draft4_bounds_become_json_schema() -> None:
    schema = to_json_schema({
        "type": "object",
        "properties": {
            "note": {"type": "string", "nullable": True},
            "kind": {"type": "string", "enum": ["A", "B"], "nullable": True},
            "box": {"allOf": [{"$ref": "#/components/schemas/Box"}], "nullable": True},
            "size": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        },
    })  # fmt: skip

    assert schema["properties"]["note"]["type"] == ["string", "null"]
    assert schema["properties"]["kind"]["enum"] == ["A", "B", None]
    assert schema["properties"]["box"]["anyOf"][1] == {"type": "null"}
    assert schema["properties"]["box"]["anyOf"][0]["allOf"][0]["$ref"].endswith("#/components/schemas/Box")
    assert schema["properties"]["size"] == {"type": "number", "exclusiveMinimum": 0}


@pytest.mark.pinterest_spec
def test_spec_validation_keeps_ref_siblings_and_names_the_field() -> None:
    spec = official_spec()
    operation = spec.operation("events/create")
    event = {"event_name": "checkout", "action_source": "web", "event_time": 1, "event_id": "e1",
             "user_data": {"ph": ["ab"]}}  # fmt: skip

    with pytest.raises(InvalidRequest, match=r"^data\.0\.user_data: .* is not valid under any of the given schemas"):
        operation.validate_body({"data": [event]})  # anyOf of $ref + required siblings: em, maids, or IP+UA
    operation.validate_body({"data": [{**event, "user_data": {"em": ["ab"]}}]})
    with pytest.raises(InvalidRequest, match=r"^page_size: 251 is greater than the maximum of 250$"):
        spec.operation("ads/list").validate_parameters({"ad_account_id": ACCOUNT_ID}, {"page_size": ["251"]})


def test_without_the_spec_file_the_sandbox_warns_and_serves(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, sandbox_server: Any, tmp_path: Path
) -> None:
    monkeypatch.setenv("PIN2DEAL_PINTEREST_SPEC", str(tmp_path / "missing.json"))
    with caplog.at_level(logging.WARNING, logger="sandbox.pinterest.spec"):
        serve(sandbox_server, tmp_path / "world")
    client = PinterestClient()

    assert "serves without request validation" in caplog.text
    assert client.get(f"/v5/ad_accounts/{ACCOUNT_ID}").json()["currency"] == "EUR"
    too_big = client.get(f"/v5/ad_accounts/{ACCOUNT_ID}/campaigns", {"page_size": 251})
    assert (too_big.status_code, too_big.json()["code"]) == (400, 1)  # the handlers' own limits still hold
    assert "page_size" in too_big.json()["message"]
