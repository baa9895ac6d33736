"""Under a real scheduler, a mart_attribution Asset event (what every finished reconcile publishes) triggers the
briefing: a run with no logical date and no data interval, every task in its own process, that briefs yesterday in
the account's time zone and never posts to Slack.

The event is posted through Airflow's REST API, as an external producer would, so this test does not depend on the
reconcile succeeding on the e2e world (the reconcile's own tests cover that it publishes the Asset).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import requests

from pin2deal.dag_defaults import MART_ATTRIBUTION
from tests.e2e.conftest import AirflowDeployment


def api_session(deployment: AirflowDeployment) -> tuple[str, requests.Session]:
    base = f"http://127.0.0.1:{deployment.env['AIRFLOW__API__PORT']}"
    password = deployment.password()
    token = requests.post(f"{base}/auth/token", json={"username": "admin", "password": password}, timeout=30)
    token.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return base, session


@pytest.mark.slow
def test_a_mart_attribution_event_triggers_the_briefing_of_yesterday_under_a_real_scheduler(
    airflow_deployment: AirflowDeployment, e2e_world, warehouse
) -> None:
    deployment = airflow_deployment
    deployment.wait_for_dag("daily_briefing")
    deployment.cli("dags", "unpause", "daily_briefing")
    base, api = api_session(deployment)
    assets = api.get(f"{base}/api/v2/assets", params={"uri_pattern": MART_ATTRIBUTION.uri}, timeout=30).json()
    (asset,) = [item for item in assets["assets"] if item["uri"] == MART_ATTRIBUTION.uri]
    api.post(f"{base}/api/v2/assets/events", json={"asset_id": asset["id"], "extra": {}}, timeout=30).raise_for_status()

    runs = deployment.wait_for_runs("daily_briefing", "asset_triggered", 1)
    assert [(logical, state) for logical, state in runs] == [(None, "success")]
    ((run_id, run_after),) = deployment.query(
        "SELECT run_id, run_after FROM dag_run WHERE dag_id = 'daily_briefing' AND run_type = 'asset_triggered'"
    )
    # Yesterday in the ad account's time zone (UTC for the e2e world, and when no account is loaded yet).
    account = warehouse.execute("SELECT timezone FROM raw.pinterest_ad_accounts ORDER BY ad_account_id").fetchone()
    zone = ZoneInfo(account[0] if account else "UTC")
    expected_day = run_after.astimezone(zone).date() - dt.timedelta(days=1)
    row = warehouse.execute(
        "SELECT briefing_date, markdown, delivered_to FROM ops.briefings WHERE run_id = %s", (run_id,)
    ).fetchone()
    assert row is not None, f"{run_id} stored no briefing"
    assert row[0] == expected_day and row[1].startswith("# Pinterest briefing for ") and row[2] is None
    states = dict(
        deployment.query(
            "SELECT task_id, state FROM task_instance WHERE dag_id = 'daily_briefing' AND run_id = %s", run_id
        )
    )
    assert states == {"migrate_warehouse": "success", "write_briefing": "success", "deliver_briefing": "success"}
