"""``pinterest_spend`` as production runs it: a real scheduler, every task a process of its own, and manual
triggers without a logical date (no data interval), with and without conf."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import psycopg
import pytest

from sandbox.pinterest.analytics import is_final
from sandbox.server import SandboxServer
from tests.e2e.conftest import AirflowDeployment

DAG_ID = "pinterest_spend"


def loaded_days(warehouse: psycopg.Connection) -> dict[dt.date, tuple[int, set[str]]]:
    """Per day: total spend and the run ids that wrote its rows."""
    rows = warehouse.execute(
        "SELECT date, sum(spend_micro), array_agg(DISTINCT run_id) FROM raw.pinterest_ad_daily GROUP BY date"
    ).fetchall()
    return {day: (int(total), set(run_ids)) for day, total, run_ids in rows}


def dataset_spend(world: SandboxServer) -> dict[dt.date, int]:
    spend: dict[dt.date, int] = defaultdict(int)
    for row in world.app.state.sandbox.dataset.analytics:
        spend[dt.date.fromisoformat(row["DATE"])] += row["SPEND_IN_MICRO_DOLLAR"]
    return spend


@pytest.mark.slow
def test_manual_triggers_without_a_logical_date_pull_up_to_the_last_complete_day(
    airflow_deployment: AirflowDeployment, e2e_world: SandboxServer, warehouse: psycopg.Connection
) -> None:
    deployment = airflow_deployment
    deployment.wait_for_dag(DAG_ID)
    deployment.cli("dags", "unpause", DAG_ID)
    # Unpausing starts the run of the latest interval (catchup is off): let it finish, then start from nothing so
    # what the warehouse holds is the manual runs' work.
    assert [state for _, state in deployment.wait_for_runs(DAG_ID, "scheduled", 1)] == ["success"]
    today = e2e_world.app.state.sandbox.today  # the account is on UTC: its last complete day is yesterday
    expected = dataset_spend(e2e_world)

    warehouse.execute("TRUNCATE raw.pinterest_ad_daily")
    deployment.cli("dags", "trigger", DAG_ID)  # no --logical-date, no conf: as the docs show it
    runs = deployment.wait_for_runs(DAG_ID, "manual", 1)

    assert [(logical, state) for logical, state in runs] == [(None, "success")]
    days = loaded_days(warehouse)
    assert set(days) == {today - dt.timedelta(days=n) for n in range(1, 5)}  # the last complete day + 3 lookback
    for day, (spend, run_ids) in days.items():
        assert all(run_id.startswith("manual__") for run_id in run_ids)
        if is_final(day, today):
            assert spend == expected[day], day
        else:  # provisional: the sandbox reports 80 % until the day is final
            assert 0 < spend <= expected[day]

    warehouse.execute("TRUNCATE raw.pinterest_ad_daily")
    deployment.cli("dags", "trigger", DAG_ID, "--conf", '{"lookback_days": 0}')
    runs = deployment.wait_for_runs(DAG_ID, "manual", 2)

    assert [state for _, state in runs] == ["success", "success"]
    assert set(loaded_days(warehouse)) == {today - dt.timedelta(days=1)}
