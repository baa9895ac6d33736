"""``PinterestAdsHook`` against the sandbox over real HTTP: requests as the spec defines them, errors as they come."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
from collections.abc import Callable
from typing import Any

import pytest
import requests

from pin2deal.hooks.pinterest import PinterestAdsHook, PinterestAPIError, PinterestTokenExpired
from pin2deal.pinterest.spend import ANALYTICS_COLUMNS
from pin2deal.retrying import RetryAfterTooLong, api_retrying
from sandbox.pinterest.spec import load_spec
from sandbox.settings import FaultRates
from tests.pinterest.pinterest_worlds import ACCOUNT_ID, CURRENCY, OAUTH_EXTRA, build_world, today_utc
from tests.pinterest.spec_conformance import SpecConformance

CONN = "AIRFLOW_CONN_PINTEREST_ADS_DEFAULT"


def record_traffic(hook: PinterestAdsHook) -> list[requests.Response]:
    """Every response the hook's session receives (with ``.request``, the request as sent)."""
    seen: list[requests.Response] = []
    hook.session().hooks["response"].append(lambda response, *args, **kwargs: seen.append(response))
    return seen


@pytest.mark.pinterest_spec
def test_every_request_the_hook_sends_conforms_to_the_spec(pinterest_world: Callable[..., Any]) -> None:
    server = pinterest_world(oauth=True)
    hook = PinterestAdsHook()
    traffic = record_traffic(hook)
    today = today_utc()

    assert hook.get_ad_account()["currency"] == CURRENCY
    ads = [ad["id"] for kind in ("campaigns", "ad_groups", "ads") for page in hook.iter_entities(kind)
           for ad in page if kind == "ads"]  # fmt: skip
    rows = hook.ads_analytics(ads, today - dt.timedelta(days=89), today, ANALYTICS_COLUMNS)
    assert hook.metrics_ready(today - dt.timedelta(days=5))
    token = hook.create_report(today - dt.timedelta(days=185), today - dt.timedelta(days=1), ANALYTICS_COLUMNS)
    hook.get_report(token)
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()
    hook.get_ad_account()  # 401, refresh, retry

    assert len(rows) == len(server.dataset.analytics)
    operations = {(r.request.method, r.request.path_url.split("?")[0].replace(ACCOUNT_ID, "{id}")) for r in traffic}
    assert {
        ("GET", "/v5/ad_accounts/{id}"),
        ("GET", "/v5/ad_accounts/{id}/campaigns"),
        ("GET", "/v5/ad_accounts/{id}/ad_groups"),
        ("GET", "/v5/ad_accounts/{id}/ads"),
        ("GET", "/v5/ad_accounts/{id}/ads/analytics"),
        ("GET", "/v5/resources/metrics_ready_state"),
        ("POST", "/v5/ad_accounts/{id}/reports"),
        ("GET", "/v5/ad_accounts/{id}/reports"),
        ("POST", "/v5/oauth/token"),
    } <= operations
    conformance = SpecConformance(load_spec())
    problems = [problem for response in traffic for problem in conformance.problems(response.request)]
    assert problems == []
    # The checker does catch what the spec forbids.
    too_many = requests.Request("GET", f"{server.url}/v5/ad_accounts/{ACCOUNT_ID}/ads/analytics",
                                params={"ad_ids": [str(n) for n in range(251)], "columns": ["SPEND", "X"],
                                        "start_date": "2025-1-1", "granularity": "DAILY"}).prepare()  # fmt: skip
    found = " | ".join(conformance.problems(too_many))
    for expected in ("ad_ids", "explode: false", "end_date", "granularity", "start_date"):
        assert expected in found


def test_listings_include_paused_and_archived_entities_across_pages(pinterest_world: Callable[..., Any]) -> None:
    dataset = build_world(today_utc())
    many_ads = [dict(dataset.ads[0], id=f"7000000{n:05d}", name=f"Extra {n}") for n in range(300)]
    dataset.ads.extend(many_ads)
    pinterest_world(dataset)
    hook = PinterestAdsHook()
    pages = list(hook.iter_entities("ads"))
    assert len(pages) == 2  # 313 ads, 250 per page, bookmark paging
    statuses = {ad["status"] for page in pages for ad in page}
    assert statuses == {"ACTIVE", "PAUSED", "ARCHIVED"}
    assert sum(len(page) for page in pages) == len(dataset.ads)


def test_rate_limit_answers_code_8_are_retried_after_retry_after(pinterest_world: Callable[..., Any]) -> None:
    pinterest_world(faults=FaultRates(rate_limit_burst=0.25, burst_length=2, retry_after_seconds=1), seed=1)
    hook = PinterestAdsHook()
    traffic = record_traffic(hook)
    for _ in range(4):
        assert hook.get_ad_account()["id"] == ACCOUNT_ID
    limited = [response for response in traffic if response.status_code == 429]
    assert limited, "the seed should inject at least one 429 burst"
    assert {response.json()["code"] for response in limited} == {8}
    assert {response.headers["Retry-After"] for response in limited} == {"1"}
    assert hook.request_counts["ads_read"] == len(traffic) == 4 + len(limited)


def test_server_errors_are_retried(pinterest_world: Callable[..., Any]) -> None:
    pinterest_world(faults=FaultRates(server_error=0.5), seed=2)
    hook = PinterestAdsHook(retrying=functools.partial(api_retrying, initial_wait=0.05, max_wait=0.2))
    traffic = record_traffic(hook)
    for _ in range(4):
        hook.get_ad_account()
    assert any(response.status_code == 500 for response in traffic)


def test_a_rate_limit_reset_hours_away_fails_at_once_with_a_clear_message(pinterest_world: Callable[..., Any]) -> None:
    pinterest_world(faults=FaultRates(rate_limit_burst=1.0, retry_after_seconds=6 * 3600))
    hook = PinterestAdsHook()
    with pytest.raises(RetryAfterTooLong, match=r"answered 429 \(code 8\).*ads_read.*retry in 21600 s"):
        hook.get_ad_account()
    assert hook.request_counts["ads_read"] == 1


def test_an_expired_token_without_refresh_settings_is_reported_as_expired(pinterest_world: Callable[..., Any]) -> None:
    server = pinterest_world()
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()
    with pytest.raises(PinterestTokenExpired, match="access token of connection 'pinterest_ads_default' is expired"):
        PinterestAdsHook().get_ad_account()


def test_oauth_refresh_replaces_an_expired_token_and_never_logs_it(
    pinterest_world: Callable[..., Any], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture
) -> None:
    server = pinterest_world(oauth=True)
    hook = PinterestAdsHook()
    hook.get_ad_account()
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()
    traffic = record_traffic(hook)
    with caplog.at_level(logging.DEBUG):
        assert hook.get_ad_account()["id"] == ACCOUNT_ID
        # Another hook of the process uses the refreshed token at once (no second refresh).
        other = PinterestAdsHook()
        assert other.get_ad_account()["id"] == ACCOUNT_ID
    assert [r.status_code for r in traffic] == [401, 200, 200]
    assert hook.request_counts["org_read"] == 1 and other.request_counts["org_read"] == 0
    new_token = traffic[1].json()["access_token"]
    secrets = (new_token, OAUTH_EXTRA["refresh_token"], OAUTH_EXTRA["client_secret"])
    output = caplog.text + "".join(capfd.readouterr())
    assert "Refreshed the access token of connection pinterest_ads_default" in output
    assert not [secret for secret in secrets if secret in output]


def test_a_refused_refresh_fails_with_an_actionable_message(
    pinterest_world: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = pinterest_world(oauth=True)
    revoked = json.loads(os.environ[CONN])
    revoked["extra"]["refresh_token"] = "pinr.revoked"
    monkeypatch.setenv(CONN, json.dumps(revoked))
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()
    with pytest.raises(PinterestTokenExpired, match="refreshing the access token .* failed: .*authorise the app"):
        PinterestAdsHook().get_ad_account()


def test_a_request_beyond_the_documented_limits_is_refused_before_it_is_sent(
    pinterest_world: Callable[..., Any],
) -> None:
    pinterest_world()
    hook = PinterestAdsHook()
    today = today_utc()
    with pytest.raises(ValueError, match="1 to 250 ad ids"):
        hook.ads_analytics([str(n) for n in range(251)], today, today, ANALYTICS_COLUMNS)
    with pytest.raises(ValueError, match="at most 90 days"):
        hook.ads_analytics(["1"], today - dt.timedelta(days=90), today, ANALYTICS_COLUMNS)
    assert hook.request_counts["ads_analytics"] == 0
    # What the API refuses anyway is a clear, non-retried error naming Pinterest's message.
    with pytest.raises(PinterestAPIError, match="400.*last 90 days"):
        hook.ads_analytics(["687195100001"], today - dt.timedelta(days=120), today - dt.timedelta(days=100),
                           ANALYTICS_COLUMNS)  # fmt: skip
    assert hook.request_counts["ads_analytics"] == 1
