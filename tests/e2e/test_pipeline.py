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
import time
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from sandbox.connections import airflow_connections
from sandbox.generate import generate
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings
from scripts.airflow_local import AirflowDeployment, airflow_env, create_database, drop_database, free_port
from tests.e2e.conftest import FAST_ENV, metadata_database
from tests.receivers import SlackWebhook

EXTRACTION = ("hubspot_deals", "pinterest_spend")
DOWNSTREAM = ("attribution_reconcile", "pinterest_capi", "daily_briefing")


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackWebhook]:
    webhook = SlackWebhook()
    yield webhook
    webhook.stop()


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """The smallest world with Pinterest-paid deals to win: every task's own work is a fraction of a second."""
    data = tmp_path_factory.mktemp("pipeline-world")
    world = generate(data, deals=80, seed=11, today=dt.datetime.now(dt.UTC).date())
    world.config["timezone"] = "UTC"  # a UTC account: a daily run's days are exactly its data interval's
    world.save(data)
    server = SandboxServer(SandboxSettings(data_dir=data, rate_limits=False)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pipeline_warehouse_url(warehouse_url: str) -> Iterator[str]:
    """A warehouse of this module's own, empty: a full refresh judges every deal the warehouse holds, so deals other
    tests left in the session's warehouse would look deleted. The DAGs' migrate_warehouse tasks create its schema."""
    name = f"pin2deal_pipeline_{uuid.uuid4().hex[:8]}"
    yield create_database(warehouse_url, name)
    drop_database(warehouse_url, name)


@pytest.fixture
def warehouse(pipeline_warehouse_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pipeline_warehouse_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def pipeline(
    warehouse_url: str,
    pipeline_warehouse_url: str,
    tiny_world: SandboxServer,
    slack: SlackWebhook,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AirflowDeployment]:
    home = tmp_path_factory.mktemp("airflow-pipeline")
    database, metadata_url = metadata_database(warehouse_url, "airflow_pipeline")
    connections = airflow_connections(tiny_world.url, tiny_world.app.state.sandbox.dataset.config)
    env = airflow_env(home, metadata_url, pipeline_warehouse_url, connections, free_port())
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


def _settle(deployment: AirflowDeployment, since: dt.datetime, dags: tuple[str, ...], timeout: float = 240) -> None:
    """Until each of ``dags`` has finished a run created after ``since`` and nothing is queued, running or waiting
    on Assets (two polls in a row, a second apart)."""
    deadline, quiet = time.monotonic() + timeout, 0
    while quiet < 2:
        ((busy,),) = deployment.query(
            "SELECT (SELECT count(*) FROM dag_run WHERE state IN ('queued', 'running'))"
            " + (SELECT count(*) FROM asset_dag_run_queue)"
        )
        finished = {
            dag_id
            for (dag_id,) in deployment.query(
                "SELECT DISTINCT dag_id FROM dag_run WHERE state IN ('success', 'failed') AND run_after > %s", since
            )
        }
        quiet = quiet + 1 if busy == 0 and set(dags) <= finished else 0
        deployment._check_alive()
        if time.monotonic() > deadline:
            runs = deployment.query("SELECT dag_id, run_type, state FROM dag_run ORDER BY id")
            tasks = deployment.query(
                "SELECT ti.dag_id, ti.task_id, ti.state, ti.try_number FROM task_instance AS ti JOIN dag_run AS run "
                "ON run.dag_id = ti.dag_id AND run.run_id = ti.run_id WHERE run.state IN ('queued', 'running') "
                "AND ti.state IS DISTINCT FROM 'success'"
            )
            raise TimeoutError(f"the pipeline did not settle in {timeout}s: {runs}; unfinished tasks: {tasks}")
        time.sleep(1)


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


def _runs(deployment: AirflowDeployment) -> list[tuple]:
    return deployment.query("SELECT dag_id, run_type, state FROM dag_run ORDER BY dag_id, id")


@pytest.mark.slow
def test_backfill_then_crm_migration_runs_the_whole_pipeline_without_a_duplicate_conversion(
    pipeline: AirflowDeployment, tiny_world: SandboxServer, warehouse, slack: SlackWebhook
) -> None:
    deployment = pipeline
    deployment.wait_for_dags((*EXTRACTION, *DOWNSTREAM))
    today = tiny_world.app.state.sandbox.today
    first, last = today - dt.timedelta(days=3), today - dt.timedelta(days=1)
    # Sales in the backfilled days: Pinterest-paid deals with a contact, won (and so modified) in the middle one.
    won_at = dt.datetime.combine(first + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC).isoformat()
    paid = _paid_open_deals(tiny_world)[:5]
    assert len(paid) == 5, "the tiny world has Pinterest-paid open deals to win"
    for deal_id in paid:
        _post(tiny_world, f"/_sandbox/hubspot/deals/{deal_id}/close-won", {"closedAt": won_at, "modifiedAt": won_at})

    # The backfills are created while their DAGs are paused: unpausing then finds yesterday's run already there (the
    # backfill's) and adds no scheduled run of its own. The downstream DAGs stay paused meanwhile (a paused DAG
    # queues no Asset event), so the backfilled days make one reconcile, not one per finished extraction run.
    started = dt.datetime.now(dt.UTC)
    with ThreadPoolExecutor(2) as pool:  # two CLI processes at once: most of each is Airflow's start-up
        backfills = [
            pool.submit(
                deployment.cli, "backfill", "create", "--dag-id", dag_id, "--from-date", first.isoformat(),
                "--to-date", last.isoformat(), "--dag-run-conf", conf,
            )
            for dag_id, conf in (("hubspot_deals", "{}"), ("pinterest_spend", '{"lookback_days": 0}'))
        ]  # fmt: skip
        for backfill in backfills:
            backfill.result()
    deployment.unpause(*EXTRACTION)
    for dag_id in EXTRACTION:
        runs = deployment.wait_for_runs(dag_id, "backfill", 3)
        assert [(logical.date(), state) for logical, state in runs] == [
            (first + dt.timedelta(days=offset), "success") for offset in range(3)
        ], (dag_id, runs)
    deployment.unpause("attribution_reconcile", "pinterest_capi")
    deployment.api("POST", "/api/v2/dags/attribution_reconcile/dagRuns", json={"logical_date": None})
    _settle(deployment, started, ("attribution_reconcile", "pinterest_capi"))
    assert not [run for run in _runs(deployment) if run[2] == "failed"], _runs(deployment)

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
    _settle(deployment, migrated, DOWNSTREAM)
    assert not [run for run in _runs(deployment) if run[2] == "failed"], _runs(deployment)

    # Every won deal keeps its stable key under its new id (the full refresh also loads deals the 3 days missed).
    won_after = dict(warehouse.execute("SELECT stable_key, deal_id FROM mart.deal_attribution WHERE is_won"))
    assert {key: won_after.get(key) for key in won_before} == {
        key: new_ids[deal_id] for key, deal_id in won_before.items()
    }
    ((sweep,),) = deployment.query(
        "SELECT x.value FROM xcom AS x JOIN dag_run AS r ON r.id = x.dag_run_id WHERE r.dag_id = 'hubspot_deals' "
        "AND r.run_type = 'manual' AND x.task_id = 'extract_hubspot_deals' AND x.key = 'return_value'"
    )
    # Every deal the 3 days had loaded is gone under its old id, and every one was re-identified, not lost.
    assert sweep["sweep"]["reidentified"] == sweep["sweep"]["deleted"] == loaded_before, sweep["sweep"]
    briefing_runs = [run_id for (run_id,) in deployment.query(
        "SELECT run_id FROM dag_run WHERE dag_id = 'daily_briefing' AND state = 'success' AND run_after > %s", migrated
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
