"""Durable OAuth tokens across worker processes: ``ops.oauth_tokens``, encrypted, refreshed once under a lock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
import requests
from cryptography.fernet import Fernet

from pin2deal.hooks.pinterest import PinterestAdsHook, PinterestTokenExpired
from pin2deal.hooks.token_store import TOKEN_KEY_ENV, OAuthTokenStore, digest
from tests.conftest import ROOT
from tests.pinterest.pinterest_worlds import ACCOUNT_ID, OAUTH_EXTRA

# One Airflow task's worth of Pinterest calls, in a process of its own: wait for the common start, read the account.
WORKER = """
import json, sys, time
start = float(sys.argv[1])
from pin2deal.hooks.pinterest import PinterestAdsHook
hook = PinterestAdsHook()
hook.connection  # the connection is resolved before the race starts
time.sleep(max(start - time.time(), 0))
account = hook.get_ad_account()
print(json.dumps({"id": account["id"], "refreshes": hook.request_counts["org_read"]}))
"""


def run_workers(count: int, delay: float = 8.0) -> list[tuple[dict[str, Any], str]]:
    """Start ``count`` worker processes that call the API at the same instant; (their result, their output)."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}
    start = time.time() + delay
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(start)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"worker failed:\n{out}\n{err}"
        results.append((json.loads(out.strip().splitlines()[-1]), out + err))
    return results


def stored_row(warehouse: psycopg.Connection) -> tuple:
    return warehouse.execute(
        "SELECT access_token, refresh_token, configured_digest, refreshed_at FROM ops.oauth_tokens "
        "WHERE conn_id = 'pinterest_ads_default'"
    ).fetchone()


@pytest.mark.slow
def test_two_workers_meeting_an_expired_token_refresh_once_and_keep_the_rotated_refresh_token(
    pinterest_world: Callable[..., Any], warehouse: psycopg.Connection
) -> None:
    server = pinterest_world(oauth=True)
    tokens = server.app.state.pinterest.tokens
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()

    racing = run_workers(2)

    assert [result["id"] for result, _ in racing] == [ACCOUNT_ID, ACCOUNT_ID]
    assert sorted(result["refreshes"] for result, _ in racing) == [0, 1]  # one refreshed, the other adopted it
    assert tokens.refreshes == 1
    rotated = tokens.refresh_token
    assert rotated != OAUTH_EXTRA["refresh_token"]  # the configured one no longer works at Pinterest
    access, refresh, configured, _ = stored_row(warehouse)
    cipher = Fernet(os.environ[TOKEN_KEY_ENV])
    assert cipher.decrypt(bytes(refresh)).decode() == rotated
    assert tokens.is_ads(cipher.decrypt(bytes(access)).decode())
    assert rotated.encode() not in bytes(refresh) and configured == digest(PinterestAdsHook().token_configuration)
    assert OAUTH_EXTRA["refresh_token"] in PinterestAdsHook().token_configuration

    # The next task, another process again, uses the stored token: no refresh. A second expiry rotates again,
    # from the stored refresh token (the configured one was revoked by the first rotation).
    (later, _), = run_workers(1, delay=0)
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()
    (again, output), = run_workers(1, delay=0)

    assert (later["refreshes"], again["refreshes"], tokens.refreshes) == (0, 1, 2)
    assert cipher.decrypt(bytes(stored_row(warehouse)[1])).decode() == tokens.refresh_token != rotated
    new_access = cipher.decrypt(bytes(stored_row(warehouse)[0])).decode()
    outputs = output + "".join(worker_output for _, worker_output in racing)
    assert "Refreshed the access token of connection pinterest_ads_default" in outputs
    secrets = (rotated, tokens.refresh_token, new_access, OAUTH_EXTRA["client_secret"])
    assert not [secret for secret in secrets if secret in outputs]


def test_a_connection_given_a_new_refresh_token_ignores_the_stored_pair(
    pinterest_world: Callable[..., Any], warehouse: psycopg.Connection
) -> None:
    server = pinterest_world(oauth=True)
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()
    hook = PinterestAdsHook()
    hook.get_ad_account()
    assert stored_row(warehouse) is not None

    # The app was authorised again and the connection holds the new pair: the row written from the old one is stale.
    elsewhere = hook.token_configuration.replace(OAUTH_EXTRA["refresh_token"], "pinr.new-authorisation")
    assert OAuthTokenStore("pinterest_ads_default", elsewhere, "pin2deal_warehouse").read() is None
    assert PinterestAdsHook().tokens == hook.tokens  # the same configured refresh token: the stored pair is current


def test_a_connection_without_refresh_settings_fails_fast_and_never_touches_the_store(
    pinterest_world: Callable[..., Any], warehouse: psycopg.Connection
) -> None:
    server = pinterest_world()  # like a conversions connection: an access token only
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()
    hook = PinterestAdsHook()
    with pytest.raises(PinterestTokenExpired, match="expired or revoked: set a new one as the connection password"):
        hook.get_ad_account()
    assert hook.token_store is None and stored_row(warehouse) is None
    assert hook.request_counts["org_read"] == 0


def test_without_a_key_the_hook_refuses_to_refresh_rather_than_lose_the_rotated_token(
    pinterest_world: Callable[..., Any], warehouse: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = pinterest_world(oauth=True)
    monkeypatch.delenv(TOKEN_KEY_ENV)
    monkeypatch.delenv("AIRFLOW__CORE__FERNET_KEY", raising=False)
    requests.post(f"{server.url}/_sandbox/pinterest/expire-token", timeout=10).raise_for_status()

    with pytest.raises(Exception, match=f"set {TOKEN_KEY_ENV} or Airflow's \\[core\\] fernet_key"):
        PinterestAdsHook().get_ad_account()
    assert server.app.state.pinterest.tokens.refreshes == 0  # the refresh token was not spent
    assert stored_row(warehouse) is None
