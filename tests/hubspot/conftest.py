"""Fixtures of the HubSpot extraction tests: a sandbox serving a small world, and a clean slate per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from deal_worlds import FAST, TOKEN, hubspot_connection, write_world


@pytest.fixture
def hubspot_world(
    sandbox_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., Any]:
    """``hubspot_world(deals, contacts, extra=FAST, **sandbox settings)``: serve a world, point the connection at it."""

    def start(deals, contacts=(), *, extra=FAST, drop_deal_property=None, token=TOKEN, **settings: Any):
        root = write_world(tmp_path / "world", list(deals), list(contacts), drop_deal_property=drop_deal_property)
        settings.setdefault("rate_limits", False)
        server = sandbox_server(root, **settings)
        monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_connection(server.url, token, **extra))
        return server

    return start


@pytest.fixture(autouse=True)
def clean_hubspot_tables(warehouse: psycopg.Connection) -> Iterator[None]:
    """Each test starts from empty HubSpot raw tables, watermarks and issues."""
    warehouse.execute(
        "TRUNCATE raw.hubspot_deals, raw.hubspot_deal_ids, raw.hubspot_deal_contacts, raw.hubspot_contacts, "
        "raw.hubspot_pipeline_stages"
    )
    warehouse.execute("DELETE FROM ops.watermarks WHERE source = 'hubspot.deals'")
    warehouse.execute("DELETE FROM ops.record_issues WHERE source LIKE 'hubspot.%'")
    yield
