"""Fixtures of the Pinterest spend tests: a sandbox serving a small world, and a clean slate per test."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.pinterest.pinterest_worlds import ACCOUNT_ID, OAUTH_EXTRA, TIMEZONE, build_world, today_utc


@pytest.fixture
def pinterest_world(
    sandbox_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Any]:
    """``pinterest_world(dataset=None, *, oauth=False, **sandbox settings)``: serve a world (``build_world`` of
    today by default) and point ``pinterest_ads_default`` at it: ad account and time zone in the extra, plus the
    OAuth refresh settings when ``oauth``."""

    def start(dataset=None, *, oauth: bool = False, **settings: Any):
        dataset = dataset or build_world(today_utc())
        root = tmp_path / "world"
        dataset.save(root)
        server = sandbox_server(root, **settings)
        connection = json.loads(os.environ["AIRFLOW_CONN_PINTEREST_ADS_DEFAULT"])
        connection["extra"] = {"ad_account_id": ACCOUNT_ID, "timezone": TIMEZONE, **(OAUTH_EXTRA if oauth else {})}
        monkeypatch.setenv("AIRFLOW_CONN_PINTEREST_ADS_DEFAULT", json.dumps(connection))
        server.dataset = dataset
        return server

    return start


@pytest.fixture(autouse=True)
def clean_pinterest_tables(warehouse: psycopg.Connection) -> Iterator[None]:
    """Each test starts from empty Pinterest raw tables and issues, and no stored OAuth tokens."""
    warehouse.execute(
        "TRUNCATE raw.pinterest_ad_accounts, raw.pinterest_campaigns, raw.pinterest_ad_groups, raw.pinterest_ads, "
        "raw.pinterest_ad_daily, raw.pinterest_ad_daily_deleted, ops.oauth_tokens"
    )
    warehouse.execute("DELETE FROM ops.record_issues WHERE source LIKE 'pinterest.%'")
    yield
