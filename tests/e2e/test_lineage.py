"""OpenLineage events of a pipeline run name the datasets each custom operator read and wrote: the HubSpot portal and
the Pinterest ad account as inputs, the warehouse tables as outputs, the Conversions API as the sender's output;
and the reconcile's SQL steps join them: the tables they read are the ones the extracts wrote, under the same names,
so the graph runs from the Pinterest analytics to ``mart.performance`` and from the HubSpot deals to
``mart.deal_attribution``.

The OpenLineage provider (pinned) runs as a deployment configures it, with its file transport: every DAG of the
pipeline runs once in a process of its own (``dag.test()``, as ``airflow dags test`` does) on a tiny sandbox world,
and the events the provider wrote are read back.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sandbox.connections import airflow_connections
from sandbox.server import SandboxServer
from tests.conftest import ROOT

RUN_DAGS = """
import datetime as dt, json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
for dag_id, logical_date, conf in json.loads(sys.argv[2]):
    run = bag.get_dag(dag_id).test(logical_date=dt.datetime.fromisoformat(logical_date), run_conf=conf)
    print("RUN", dag_id, run.state, flush=True)
"""


@pytest.mark.slow
def test_each_operator_reports_the_portal_the_ad_account_the_tables_and_the_conversions_api(
    tiny_world: SandboxServer, own_warehouse_url: str, tmp_path: Path
) -> None:
    config = tiny_world.app.state.sandbox.dataset.config
    today = dt.datetime.combine(tiny_world.app.state.sandbox.today, dt.time(), tzinfo=dt.UTC)
    events_file = tmp_path / "lineage.jsonl"
    env = {
        **os.environ,
        **airflow_connections(tiny_world.url, config),
        "AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": own_warehouse_url,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "pin2deal",
        "PIN2DEAL_BRIEFING_DIR": str(tmp_path / "briefings"),
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
    }
    hubspot = json.loads(env["AIRFLOW_CONN_HUBSPOT_DEFAULT"])
    hubspot["extra"].update(rate_limit_per_10s=100_000, search_per_second=10_000)
    env["AIRFLOW_CONN_HUBSPOT_DEFAULT"] = json.dumps(hubspot)
    steps = [
        ("hubspot_deals", today - dt.timedelta(hours=1), {"full_refresh": True}),
        ("hubspot_sweep", today - dt.timedelta(hours=1), {}),
        ("pinterest_spend", today, {"lookback_days": 1}),
        ("attribution_reconcile", today, {}),
        ("pinterest_capi", today, {}),
        ("daily_briefing", today + dt.timedelta(hours=7), {}),
    ]
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, check=True)
    done = subprocess.run(
        [sys.executable, "-c", RUN_DAGS, str(ROOT / "dags"),
         json.dumps([(dag_id, date.isoformat(), conf) for dag_id, date, conf in steps])],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert [line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RUN ")] == [
        [dag_id, "success"] for dag_id, _, _ in steps
    ], done.stdout[-3000:]

    events: dict[str, dict[str, tuple[set, set]]] = {"START": {}, "COMPLETE": {}}
    for line in events_file.read_text().splitlines():
        event = json.loads(line)
        if event["eventType"] in events:
            events[event["eventType"]][event["job"]["name"]] = tuple(
                {(dataset["namespace"], dataset["name"]) for dataset in event[side]} for side in ("inputs", "outputs")
            )
    complete = events["COMPLETE"]

    warehouse = urlsplit(own_warehouse_url)
    database = warehouse.path.lstrip("/")

    def table(*names: str) -> set[tuple[str, str]]:
        return {(f"postgres://{warehouse.hostname}:{warehouse.port}", f"{database}.{name}") for name in names}

    api = urlsplit(tiny_world.url).netloc
    account = f"ad_accounts/{config['ad_account_id']}"

    def hubspot_api(*names: str) -> set[tuple[str, str]]:
        return {(f"hubspot://{api}", f"crm/{name}") for name in names}

    def pinterest_api(*names: str) -> set[tuple[str, str]]:
        return {(f"pinterest://{api}", f"{account}/{name}" if name else account) for name in names}

    expected = {
        "hubspot_deals.extract_hubspot_deals": (
            hubspot_api("deals", "contacts", "pipelines/deals"),
            table("raw.hubspot_deals", "raw.hubspot_contacts", "raw.hubspot_deal_contacts", "raw.hubspot_deal_ids",
                  "raw.hubspot_pipeline_stages"),
        ),  # fmt: skip
        "hubspot_sweep.sweep_hubspot": (
            hubspot_api("deals", "contacts"),
            table("raw.hubspot_deals", "raw.hubspot_contacts", "raw.hubspot_deal_contacts", "raw.hubspot_deal_ids"),
        ),
        "pinterest_spend.refresh_entities": (
            pinterest_api("", "campaigns", "ad_groups", "ads"),
            table(
                "raw.pinterest_ad_accounts", "raw.pinterest_campaigns", "raw.pinterest_ad_groups", "raw.pinterest_ads"
            ),
        ),
        "pinterest_spend.pull_spend": (
            pinterest_api("analytics"), table("raw.pinterest_ad_daily", "raw.pinterest_ad_daily_deleted")
        ),
        "pinterest_spend.request_reports": (pinterest_api("analytics"), pinterest_api("reports")),
        "pinterest_spend.load_reports": (
            pinterest_api("reports"), table("raw.pinterest_ad_daily", "raw.pinterest_ad_daily_deleted")
        ),
        "attribution_reconcile.plan_reconcile": (
            table("raw.hubspot_deals", "raw.pinterest_ad_daily", "raw.channel_spend"), table("ops.reconcile_runs")
        ),
        "attribution_reconcile.finish_reconcile": (set(), table("ops.reconcile_runs")),
        "pinterest_capi.send_conversions": (
            table("ops.capi_outbox"), pinterest_api("events") | table("ops.capi_ledger")
        ),
        "pinterest_capi.read_event_quality": (
            pinterest_api("conversion_eqs"),
            table("raw.pinterest_event_quality", "raw.pinterest_event_quality_keys", "ops.record_issues"),
        ),
    }
    for job, (inputs, outputs) in expected.items():
        assert job in complete, sorted(complete)
        assert complete[job] == (inputs, outputs), job
    channel_inputs, channel_outputs = complete["attribution_reconcile.load_channel_spend"]
    assert [namespace.startswith("file://") for namespace, _ in channel_inputs] == [True]
    assert channel_outputs == table("raw.channel_spend", "ops.channel_spend_files", "ops.record_issues")
    briefing_inputs, briefing_outputs = complete["daily_briefing.write_briefing"]
    assert table("mart.performance", "mart.channel_performance") <= briefing_inputs
    assert table("ops.briefings") <= briefing_outputs

    # The reconcile's SQL steps, as they declare them (not the rule views or temp tables a SQL parser would name).
    hubspot_tables = ("raw.hubspot_deals", "raw.hubspot_deal_contacts", "raw.hubspot_deal_ids",
                      "raw.hubspot_pipeline_stages")
    entities = ("raw.pinterest_ad_accounts", "raw.pinterest_campaigns", "raw.pinterest_ad_groups", "raw.pinterest_ads")
    staged = ("mart.performance_spend", "mart.performance_spend_periods")
    pending = ("mart.performance_pending", "mart.channel_performance_pending")
    marts = ("mart.deal_attribution", "mart.performance", "mart.cohort_cac", "mart.truth_vs_platform",
             "mart.channel_performance", "mart.funnel", "mart.funnel_entries")
    steps = {
        "attribution_reconcile.reconcile_deals": (
            table(*hubspot_tables, *entities, "ops.pinterest_entity_names"),
            table("mart.deal_attribution", "mart.deal_attribution_replaced", "mart.performance_pending",
                  "mart.channel_performance_pending", "ops.lineage_moments", "ops.record_issues"),
        ),
        "attribution_reconcile.reconcile_spend": (
            table("raw.pinterest_ad_daily", "raw.pinterest_ad_daily_deleted", *entities), table(*staged)
        ),
        "attribution_reconcile.publish_marts": (
            table(*staged, *pending, "mart.deal_attribution", "mart.deal_attribution_replaced",
                  "raw.pinterest_ad_daily", *entities, "raw.channel_spend", "raw.hubspot_deals",
                  "raw.hubspot_deal_ids", "raw.hubspot_pipeline_stages"),
            table(*marts, *pending, "mart.deal_attribution_replaced", "ops.mart_publication"),
        ),
    }  # fmt: skip
    for job, datasets in steps.items():
        assert complete[job] == datasets, job
        assert events["START"][job] == datasets, job
    # Each table a step reads is written by another task of the pipeline, under the same name: one graph. (dag.test()
    # runs every task in one process, where the provider also reports the SQL hooks' queries as jobs "<task>.query.N";
    # a deployment runs each task in a process of its own.)
    tasks = {job: datasets for job, datasets in complete.items() if ".query." not in job}
    for job in steps:
        written_elsewhere = set().union(*(outputs for other, (_, outputs) in tasks.items() if other != job))
        assert complete[job][0] <= written_elsewhere, (job, complete[job][0] - written_elsewhere)

    def reached_from(datasets: set[tuple[str, str]]) -> set[tuple[str, str]]:
        reached, frontier = set(datasets), set(datasets)
        while frontier:
            frontier = set().union(*(outputs for inputs, outputs in tasks.values() if inputs & frontier)) - reached
            reached |= frontier
        return reached

    assert table("mart.performance", "mart.cohort_cac") <= reached_from(pinterest_api("analytics"))
    assert table("mart.deal_attribution", "mart.performance", "mart.funnel") <= reached_from(hubspot_api("deals"))
