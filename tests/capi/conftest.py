"""Fixtures of the Conversions API tests: a sandbox on a small world, a clean outbox and ledger, and the operator
run the way a worker runs it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.pinterest.pinterest_worlds import ACCOUNT_ID, build_world, today_utc
from tests.reconcile import conftest as reconcile_fixtures

# The reconcile tests' fixtures (its world served, the extraction and reconcile DAGs, a clean warehouse), for the
# end-to-end tests.
serve_world = reconcile_fixtures.serve_world
channel_spend_dir = reconcile_fixtures.channel_spend_dir
extract = reconcile_fixtures.extract
reconcile = reconcile_fixtures.reconcile
clean_warehouse = reconcile_fixtures.clean_warehouse


@pytest.fixture
def capi_sandbox(sandbox_server: Callable[..., Any], tmp_path: Path) -> Callable[..., Any]:
    """``capi_sandbox(**sandbox settings)``: serve a small world (today's clock, no rate limits unless asked) and
    point ``pinterest_conversions_default`` at it."""

    def start(**settings: Any):
        root = tmp_path / "world"
        build_world(today_utc(), history_days=2).save(root)
        server = sandbox_server(root, **{"rate_limits": False, **settings})
        assert json.loads(os.environ["AIRFLOW_CONN_PINTEREST_CONVERSIONS_DEFAULT"])["extra"]["ad_account_id"] == (
            ACCOUNT_ID
        )
        return server

    return start


@pytest.fixture(autouse=True)
def clean_capi_tables(warehouse: psycopg.Connection) -> Iterator[None]:
    warehouse.execute("TRUNCATE ops.capi_outbox, ops.capi_ledger")
    yield


@pytest.fixture
def send_conversions() -> Callable[..., dict[str, Any]]:
    """Run ``PinterestConversionsOperator`` (fresh objects, as a new worker process would) and return its summary."""
    from pin2deal.operators.pinterest_capi import PinterestConversionsOperator

    def run(run_id: str = "manual__1", **kwargs: Any) -> dict[str, Any]:
        # 10 s: a timeout fault (the sandbox hangs 30 s or more) still ends the attempt, while a 1,000-event request on
        # a loaded machine (several seconds) is never mistaken for one.
        operator = PinterestConversionsOperator(task_id="send_conversions", **{"request_timeout": 10.0, **kwargs})
        return operator.execute({"run_id": run_id})

    return run
