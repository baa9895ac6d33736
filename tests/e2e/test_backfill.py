"""`airflow backfill create` under a real scheduler re-does exactly the days asked for."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from tests.e2e.conftest import AirflowDeployment


@pytest.mark.slow
def test_backfill_create_redoes_exactly_its_days_under_a_real_scheduler(
    airflow_deployment: AirflowDeployment, e2e_world, warehouse
) -> None:
    deployment = airflow_deployment
    warehouse.execute("TRUNCATE raw.pinterest_ad_daily")  # this worker's earlier tests may have loaded days
    deployment.wait_for_dag("pinterest_spend")
    # A backfill only queues runs; the scheduler starts them once the DAG is unpaused.
    deployment.cli("dags", "unpause", "pinterest_spend")
    today = e2e_world.app.state.sandbox.today
    first, last = today - dt.timedelta(days=20), today - dt.timedelta(days=18)
    deployment.cli(
        "backfill",
        "create",
        "--dag-id",
        "pinterest_spend",
        "--from-date",
        first.isoformat(),
        "--to-date",
        last.isoformat(),
        "--dag-run-conf",
        '{"lookback_days": 0}',
    )
    runs = deployment.wait_for_runs("pinterest_spend", "backfill", 3)
    assert [(logical.date(), state) for logical, state in runs] == [
        (first + dt.timedelta(days=offset), "success") for offset in range(3)
    ]

    loaded = warehouse.execute(
        "SELECT date, sum(spend_micro) FROM raw.pinterest_ad_daily WHERE run_id LIKE 'backfill%%' GROUP BY date"
    ).fetchall()
    expected: dict[dt.date, int] = defaultdict(int)
    for row in e2e_world.app.state.sandbox.dataset.analytics:
        day = dt.date.fromisoformat(row["DATE"])
        if first <= day <= last:
            expected[day] += row["SPEND_IN_MICRO_DOLLAR"]
    # Each daily run's interval [D, D+1) is the account's day D (a UTC account): nothing before, nothing after.
    assert dict(loaded) == dict(expected)
