"""What happens before an operation runs: authentication and OAuth refresh, per-category rate limits, and the
seeded faults (5xx, 429 bursts, dropped connections, hangs)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from sandbox.settings import FaultRates, PinterestLimits
from tests.sandbox.test_pinterest_world import (
    ACCOUNT_ID,
    ADS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    PinterestClient,
    serve,
)

ACCOUNT = f"/v5/ad_accounts/{ACCOUNT_ID}"
AUTH_FAILED = {"code": 2, "message": "Authentication failed."}
ANALYTICS = {
    "start_date": "2025-06-20",
    "end_date": "2025-06-29",
    "granularity": "TOTAL",
    "columns": "SPEND_IN_MICRO_DOLLAR",
}


def refresh(server: Any, auth: tuple[str, str] = (CLIENT_ID, CLIENT_SECRET), **form: str) -> httpx.Response:
    data = {"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN, **form}
    return httpx.post(f"{server.url}/v5/oauth/token", data=data, auth=auth)


@pytest.mark.parametrize(
    "header", [None, "Bearer", f"Basic {ADS_TOKEN}", "Bearer pina_unknown", f"Bearer {ADS_TOKEN}x"]
)
def test_requests_without_a_valid_bearer_token_get_401(sandbox_server: Any, tmp_path: Path, header: str | None) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)

    response = httpx.get(f"{server.url}{ACCOUNT}/campaigns", headers={"Authorization": header} if header else {})

    assert response.status_code == 401
    assert response.json() == AUTH_FAILED


def test_an_expired_token_gets_401_until_the_client_refreshes(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)
    client = PinterestClient()
    assert client.get(f"{ACCOUNT}/campaigns").status_code == 200

    expired = httpx.post(f"{server.url}/_sandbox/pinterest/expire-token").json()
    rejected = client.get(f"{ACCOUNT}/campaigns")
    first = refresh(server)
    body = first.json()
    reused = refresh(server)  # the refresh token just used was rotated away
    second = refresh(server, refresh_token=body["refresh_token"])

    assert expired == {"expired_tokens": 1}
    assert (rejected.status_code, rejected.json()) == (401, AUTH_FAILED)
    assert first.status_code == 200
    assert (body["token_type"], body["expires_in"], body["response_type"]) == ("bearer", 30 * 86400, "refresh_token")
    assert body["refresh_token"] != REFRESH_TOKEN and body["refresh_token_expires_in"] == 60 * 86400
    assert (reused.status_code, reused.json()["message"]) == (400, "refresh_token: invalid or revoked refresh token")
    assert second.status_code == 200 and second.json()["refresh_token"] not in (REFRESH_TOKEN, body["refresh_token"])
    assert body["access_token"] != second.json()["access_token"]
    for token in (body["access_token"], second.json()["access_token"]):
        assert client.get(f"{ACCOUNT}/campaigns", token=token).status_code == 200
    assert client.get(f"{ACCOUNT}/campaigns").status_code == 401  # the configured token stays expired

    httpx.post(f"{server.url}/_sandbox/pinterest/expire-token")
    assert client.get(f"{ACCOUNT}/campaigns", token=body["access_token"]).status_code == 401


def test_refreshed_tokens_are_the_same_for_the_same_seed(sandbox_server: Any, tmp_path: Path) -> None:
    tokens = []
    for run in range(2):
        server, _ = serve(sandbox_server, tmp_path / str(run), days=0)
        first = refresh(server).json()
        second = refresh(server, refresh_token=first["refresh_token"]).json()
        tokens.append([(answer["access_token"], answer["refresh_token"]) for answer in (first, second)])

    assert tokens[0] == tokens[1]


@pytest.mark.parametrize(
    ("auth", "form", "status", "message"),
    [
        ((CLIENT_ID, "wrong-secret"), {}, 401, "Authentication failed."),
        ((CLIENT_ID, CLIENT_SECRET), {"refresh_token": "pinr.other"}, 400, "refresh_token: invalid or revoked"),
        (
            (CLIENT_ID, CLIENT_SECRET),
            {"grant_type": "client_credentials", "scope": "ads:read"},
            400,
            "grant_type: 'client_c",
        ),
        pytest.param(
            (CLIENT_ID, CLIENT_SECRET),
            {"grant_type": "password"},
            400,
            "grant_type: 'password' is not one of",
            marks=pytest.mark.pinterest_spec,
        ),
    ],
)
def test_refresh_requests_with_bad_credentials_are_refused(
    sandbox_server: Any, tmp_path: Path, auth: tuple[str, str], form: dict[str, str], status: int, message: str
) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0)

    response = refresh(server, auth, **form)

    assert response.status_code == status
    assert response.json()["message"].startswith(message)


def test_each_category_has_its_per_minute_budget_and_429_says_when_to_retry(
    sandbox_server: Any, tmp_path: Path
) -> None:
    limits = PinterestLimits(per_minute={"ads_read": 3, "ads_analytics": 2})
    _, world = serve(sandbox_server, tmp_path, days=1, settings={"rate_limits": True, "pinterest": limits})
    client = PinterestClient()
    analytics = {**ANALYTICS, "campaign_ids": world.campaigns[0]["id"]}

    unauthenticated = client.get(f"{ACCOUNT}/campaigns", token="pina_unknown")  # not counted
    reads = [client.get(f"{ACCOUNT}/campaigns") for _ in range(4)]
    reports = [client.get(f"{ACCOUNT}/campaigns/analytics", analytics) for _ in range(3)]

    assert unauthenticated.status_code == 401
    assert [r.status_code for r in reads] == [200, 200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in reads] == ["2", "1", "0", "0"]
    assert {r.headers["x-ratelimit-limit"] for r in reads} == {"3"}
    limited = reads[-1]
    assert limited.json() == {
        "code": 8,
        "message": (
            "This request exceeded a rate limit. This can happen if the client exceeds one of the published rate "
            "limits within a short time window."
        ),
    }
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["x-ratelimit-reset"] == limited.headers["Retry-After"]
    assert [r.status_code for r in reports] == [200, 200, 429]  # ads_analytics counts separately


def statuses(server: Any, count: int) -> list[int]:
    """Status codes of ``count`` API requests (a dropped connection shows as 0)."""
    client, codes = PinterestClient(), []
    for _ in range(count):
        try:
            codes.append(client.get(f"{ACCOUNT}/campaigns").status_code)
        except requests.ConnectionError:
            codes.append(0)
    return codes


def test_injected_faults_are_seeded_and_have_pinterests_shapes(sandbox_server: Any, tmp_path: Path) -> None:
    faults = FaultRates(
        server_error=0.2, rate_limit_burst=0.1, burst_length=3, retry_after_seconds=7, drop_connection=0.1
    )
    runs = []
    for run, seed in enumerate((11, 11, 12)):
        server, _ = serve(sandbox_server, tmp_path / str(run), days=0, settings={"seed": seed, "faults": faults})
        runs.append(statuses(server, 60))
        assert httpx.get(f"{server.url}/_sandbox/clock").status_code == 200  # sandbox paths draw no faults

    assert runs[0] == runs[1] != runs[2]
    assert {500, 429, 0, 200} <= set(runs[0])
    bursts = "".join("L" if code == 429 else "." for code in runs[0]).split(".")
    assert {len(burst) for burst in bursts if burst} <= {3, 6, 9}  # whole bursts of burst_length

    client = PinterestClient()
    seen: dict[int, requests.Response] = {}
    for _ in range(60):
        try:
            response = client.get(f"{ACCOUNT}/campaigns")
        except requests.ConnectionError:
            continue
        seen.setdefault(response.status_code, response)
    assert seen[500].json() == {"code": 12, "message": "Something went wrong on our end. Sorry about that."}
    assert seen[429].json()["code"] == 8 and seen[429].headers["Retry-After"] == "7"


def test_a_dropped_connection_gets_no_response_at_all(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0, settings={"faults": FaultRates(drop_connection=1.0)})

    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(f"{server.url}{ACCOUNT}/campaigns", headers={"Authorization": f"Bearer {ADS_TOKEN}"})
    with pytest.raises(requests.ConnectionError):
        PinterestClient().get(f"{ACCOUNT}/campaigns")
    assert httpx.get(f"{server.url}/_sandbox/clock").status_code == 200  # the server itself is fine


def test_a_hang_never_answers_and_ends_when_the_client_gives_up(sandbox_server: Any, tmp_path: Path) -> None:
    server, _ = serve(sandbox_server, tmp_path, days=0, settings={"faults": FaultRates(hang=1.0, hang_seconds=30)})

    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{server.url}{ACCOUNT}/campaigns", headers={"Authorization": f"Bearer {ADS_TOKEN}"}, timeout=0.5)
    waited = time.monotonic() - started
    server.stop()  # must not wait out the 30 s: the hang ends with the client's disconnect

    assert 0.5 <= waited < 5
    assert time.monotonic() - started < 10
