"""Fixtures of the reconcile tests: the hand-computed world served by the sandbox, the three DAGs run for real, and a
clean warehouse per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sandbox.dataset import Dataset
from tests.hubspot.deal_worlds import FAST, TOKEN, hubspot_connection
from tests.reconcile.reconcile_worlds import TODAY

MIDNIGHT = dt.datetime.combine(TODAY, dt.time(), dt.UTC)
# Passed in full every time: a conf given to one dag.test() run of a shared DAG object leaks into later runs.
HUBSPOT_CONF = {"full_refresh": True, "since": None}
PINTEREST_CONF = {"lookback_days": 60}


@pytest.fixture
def serve_world(sandbox_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``serve_world(dataset, hubspot=True)``: serve a dataset and point the connections at it (only the Pinterest
    ones when ``hubspot`` is false, so a second server can stand in for a renamed Pinterest world)."""
    count = 0

    def serve(dataset: Dataset, *, hubspot: bool = True):
        nonlocal count
        count += 1
        hubspot_before = __import__("os").environ.get("AIRFLOW_CONN_HUBSPOT_DEFAULT")
        root = tmp_path / f"world{count}"
        dataset.save(root)
        server = sandbox_server(root, rate_limits=False)
        if hubspot:
            monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_connection(server.url, TOKEN, **FAST))
        elif hubspot_before:
            monkeypatch.setenv("AIRFLOW_CONN_HUBSPOT_DEFAULT", hubspot_before)
        return server

    return serve


@pytest.fixture
def channel_spend_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "channel_spend"
    folder.mkdir()
    return folder


@pytest.fixture
def reconcile(run_dag: Callable[..., Any], channel_spend_dir: Path) -> Callable[..., Any]:
    """Run ``attribution_reconcile`` (every param explicit); returns the finish task's summary."""

    def run(*, full_rebuild: bool = False, home_currency: str = "USD", max_unresolved: float = 0.25,
            expect: str = "success") -> Any:  # fmt: skip
        conf = {
            "full_rebuild": full_rebuild, "home_currency": home_currency, "channel_spend_dir": str(channel_spend_dir),
            "max_unresolved_paid_share": max_unresolved,
        }  # fmt: skip
        dag_run = run_dag("attribution_reconcile", MIDNIGHT, conf=conf, expect=expect)
        if expect != "success":
            return dag_run
        finish = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "finish_reconcile")
        return finish.xcom_pull(task_ids="finish_reconcile")

    return run


@pytest.fixture
def extract(run_dag: Callable[..., Any]) -> Callable[..., None]:
    """Run both extraction DAGs for the world's last day (HubSpot: full refresh; Pinterest: 60 days back)."""

    def run(*, hubspot: bool = True, pinterest: bool = True) -> None:
        if hubspot:
            run_dag("hubspot_deals", MIDNIGHT - dt.timedelta(hours=1), conf=HUBSPOT_CONF)
        if pinterest:
            run_dag("pinterest_spend", MIDNIGHT, conf=PINTEREST_CONF)

    return run


@pytest.fixture(autouse=True)
def clean_warehouse(warehouse: psycopg.Connection) -> Iterator[None]:
    """Each test starts from empty raw, mart and reconcile state."""
    warehouse.execute(
        "TRUNCATE raw.hubspot_deals, raw.hubspot_deal_ids, raw.hubspot_deal_contacts, raw.hubspot_contacts, "
        "raw.hubspot_pipeline_stages, raw.pinterest_ad_accounts, raw.pinterest_campaigns, raw.pinterest_ad_groups, "
        "raw.pinterest_ads, raw.pinterest_ad_daily, raw.pinterest_ad_daily_deleted, raw.channel_spend, "
        "mart.deal_attribution_generations, mart.performance_generations, mart.performance_pending, "
        "mart.channel_performance_pending, mart.performance_spend, mart.performance_spend_periods, "
        "mart.cohort_cac_generations, mart.truth_vs_platform_generations, mart.channel_performance_generations, "
        "mart.deal_attribution_replaced, "
        "ops.channel_spend_files, ops.pinterest_entity_names, ops.reconcile_runs, ops.watermarks, ops.record_issues, "
        "ops.lineage_moments"
    )
    yield
