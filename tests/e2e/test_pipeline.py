"""The whole pipeline under a real scheduler, through a CRM migration (the runbook in docs/operations.md): a CLI
`airflow backfill create` of 3 days of both extraction DAGs, the Asset-driven reconcile and conversions; then the
sandbox re-ids every deal (a CRM migration), a plain `airflow dags trigger hubspot_deals --conf
'{"full_refresh": true}'` (no logical date, no max_deleted_share), and the Asset-driven reconcile, conversions and
briefing. The warehouse keeps every won deal under its stable key, a briefing is stored, the sandbox never receives
a conversion twice, and the briefing's Deadline alert reaches Slack through the triggerer.

Fast on purpose: a tiny world, a deployment tuned for tests (tests/e2e/conftest.py: FAST_ENV), polling, no fixed
sleep. The briefing stays paused until the migration, so the first chain is reconcile + conversions only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from collections.abc import Iterator

import pytest

from sandbox.connections import airflow_connections
from sandbox.server import SandboxServer
from scripts.airflow_local import AirflowDeployment, airflow_env, drop_database, free_port
from tests.e2e.conftest import (
    EXTRACTION_DAGS,
    FAST_ENV,
    backfill_extractions,
    metadata_database,
    runs_of,
    settle,
)
from tests.receivers import SlackWebhook

DOWNSTREAM = ("attribution_reconcile", "pinterest_capi", "daily_briefing")


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackWebhook]:
    webhook = SlackWebhook()
    yield webhook
    webhook.stop()


@pytest.fixture(scope="module")
def pipeline(
    warehouse_url: str,
    own_warehouse_url: str,
    tiny_world: SandboxServer,
    slack: SlackWebhook,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AirflowDeployment]:
    home = tmp_path_factory.mktemp("airflow-pipeline")
    database, metadata_url = metadata_database(warehouse_url, "airflow_pipeline")
    connections = airflow_connections(tiny_world.url, tiny_world.app.state.sandbox.dataset.config)
    env = airflow_env(home, metadata_url, own_warehouse_url, connections, free_port())
    env.update(
        {
            **FAST_ENV,
            "AIRFLOW_CONN_PIN2DEAL_SLACK": slack.connection(),
            # Daily extraction runs, so that 3 backfilled days are 3 runs of each DAG.
            "PIN2DEAL_HUBSPOT_DEALS_SCHEDULE": "0 0 * * *",
            # Every briefing run is "late" at once: the Deadline alert must reach Slack through the triggerer.
            "PIN2DEAL_BRIEFING_DEADLINE_MINUTES": "0",
            "PIN2DEAL_BRIEFING_DIR": str(home / "briefings"),
        }
    )
    deployment = AirflowDeployment(home, env, metadata_url)
    deployment.start(("api-server", "scheduler", "dag-processor", "triggerer"))
    try:
        yield deployment
    finally:
        deployment.stop()
        drop_database(warehouse_url, database)


def _events(world: SandboxServer) -> list[dict]:
    with urllib.request.urlopen(f"{world.url}/_sandbox/events", timeout=10) as response:
        return json.load(response)["events"]


def _post(world: SandboxServer, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{world.url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _paid_open_deals(world: SandboxServer) -> list[str]:
    """Deals with a clean epik, a contact and an open stage, in the sandbox's world."""
    config = world.app.state.sandbox.dataset.config
    epik = config["properties"]["epik"]
    return [
        deal["id"]
        for deal in world.app.state.sandbox.dataset.deals
        if not deal.get("archived")
        and re.fullmatch(r"[A-Za-z0-9+/]+=*", deal["properties"].get(epik) or "")
        and deal.get("associations", {}).get("contacts")
        and deal["properties"].get("hs_is_closed_won") != "true"
    ]


@pytest.mark.slow
def test_backfill_then_crm_migration_runs_the_whole_pipeline_without_a_duplicate_conversion(
    pipeline: AirflowDeployment, tiny_world: SandboxServer, own_warehouse, slack: SlackWebhook
) -> None:
    deployment, warehouse = pipeline, own_warehouse
    deployment.wait_for_dags((*EXTRACTION_DAGS, *DOWNSTREAM))
    today = tiny_world.app.state.sandbox.today
    first, last = today - dt.timedelta(days=3), today - dt.timedelta(days=1)
    # Sales in the backfilled days: Pinterest-paid deals with a contact, won (and so modified) in the middle one.
    won_at = dt.datetime.combine(first + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC).isoformat()
    paid = _paid_open_deals(tiny_world)[:5]
    assert len(paid) == 5, "the tiny world has Pinterest-paid open deals to win"
    for deal_id in paid:
        _post(tiny_world, f"/_sandbox/hubspot/deals/{deal_id}/close-won", {"closedAt": won_at, "modifiedAt": won_at})

    # The downstream DAGs stay paused during the backfill (one reconcile for the 3 days, not one per finished run),
    # then run on the days as an operator starts them after a backfill.
    started = dt.datetime.now(dt.UTC)
    backfill_extractions(deployment, first, last)
    deployment.unpause("attribution_reconcile", "pinterest_capi")
    deployment.api("POST", "/api/v2/dags/attribution_reconcile/dagRuns", json={"logical_date": None})
    settle(deployment, started, ("attribution_reconcile", "pinterest_capi"))
    assert not [run for run in runs_of(deployment) if run[2] == "failed"], runs_of(deployment)

    won_before = dict(warehouse.execute("SELECT stable_key, deal_id FROM mart.deal_attribution WHERE is_won"))
    ((loaded_before,),) = warehouse.execute("SELECT count(*) FROM raw.hubspot_deals").fetchall()
    sent_before = _events(tiny_world)
    assert won_before and sent_before, "the backfilled days won deals recent enough to send"

    # The CRM migration: every deal gets a new id, its old one in the legacy-id property; then the runbook's plain
    # full refresh (no logical date: a run without a data interval, and the default max_deleted_share).
    new_ids = {int(old): int(new) for old, new in _post(tiny_world, "/_sandbox/hubspot/deals/re-id", {})["ids"].items()}
    deployment.unpause("daily_briefing")
    migrated = dt.datetime.now(dt.UTC)
    deployment.cli("dags", "trigger", "hubspot_deals", "--conf", '{"full_refresh": true}')
    refresh = deployment.wait_for_runs("hubspot_deals", "manual", 1)
    assert refresh[-1][1] == "success", refresh
    settle(deployment, migrated, DOWNSTREAM)
    assert not [run for run in runs_of(deployment) if run[2] == "failed"], runs_of(deployment)
    after = set(deployment.query("SELECT dag_id, run_type, state FROM dag_run WHERE run_after > %s", migrated))
    assert {(dag_id, "asset_triggered", "success") for dag_id in DOWNSTREAM} <= after, after

    # Every won deal keeps its stable key under its new id (the full refresh also loads deals the 3 days missed).
    won_after = dict(warehouse.execute("SELECT stable_key, deal_id FROM mart.deal_attribution WHERE is_won"))
    assert {key: won_after.get(key) for key in won_before} == {
        key: new_ids[deal_id] for key, deal_id in won_before.items()
    }
    ((sweep,),) = deployment.query(
        "SELECT x.value FROM xcom AS x JOIN dag_run AS r ON r.id = x.dag_run_id WHERE r.dag_id = 'hubspot_deals' "
        "AND r.run_type = 'manual' AND x.task_id = 'extract_hubspot_deals' AND x.key = 'return_value'"
    )
    # Every deal the 3 days had loaded is gone under its old id, and every one was re-identified, not lost: its
    # re-created deal found it gone as it loaded (HubSpot, asked, no longer has it), so the sweep had none left.
    assert sweep["predecessors_gone"] == sweep["predecessors_checked"] == loaded_before, sweep
    assert sweep["sweep"]["deleted"] == 0, sweep["sweep"]
    briefing_runs = [run_id for (run_id,) in deployment.query(
        "SELECT run_id FROM dag_run WHERE dag_id = 'daily_briefing' AND run_type = 'asset_triggered' "
        "AND state = 'success' AND run_after > %s", migrated,
    )]  # fmt: skip
    briefing = warehouse.execute(
        "SELECT briefing_date, markdown FROM ops.briefings WHERE run_id = ANY(%s)", (briefing_runs,)
    ).fetchone()
    assert briefing and briefing[1].startswith("# Pinterest briefing for "), (briefing_runs, briefing)
    # The sandbox never received a conversion twice, before or after the migration.
    events = _events(tiny_world)
    event_ids = [event["event_id"] for event in events]
    assert len(event_ids) == len(set(event_ids)) and not any(event["deduplicated"] for event in events)
    assert len(events) >= len(sent_before)
    # Alerts: the briefing's deadline (0 minutes) reached Slack through the triggerer; no task failed.
    texts = [message["text"] for message in slack.received]
    assert any(text.startswith("pin2deal: the daily briefing is not ready 0 minutes") for text in texts), texts
    assert not [text for text in texts if text.startswith("pin2deal: task failed")], texts
