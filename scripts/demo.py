"""`make demo`: run the whole pipeline on the sandbox's demo world, end with the briefing.

Airflow runs embedded (SQLite metadata under .local/airflow); the warehouse is PIN2DEAL_WAREHOUSE_URL (the Makefile
sets it to the private cluster unless the user configured one). Every step runs a real DAG with ``dag.test()``,
for the logical dates of the sandbox's fixed clock, so the demo prints the same figures on any day.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
# The demo's own settings, before Airflow is imported (a test importing demo_steps keeps its environment).
if __name__ == "__main__":
    # The demo narrates itself; Airflow's chatter stays in the task logs (PIN2DEAL_DEMO_LOG_LEVEL=INFO shows it).
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", os.environ.get("PIN2DEAL_DEMO_LOG_LEVEL", "WARNING"))

import psycopg  # noqa: E402

from sandbox.__main__ import DEFAULT_DATASET, DEFAULT_TODAY  # noqa: E402
from sandbox.connections import airflow_connections  # noqa: E402
from sandbox.generate import CHANNEL_SPEND_FILE, generate  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from sandbox.settings import SandboxSettings  # noqa: E402

DEMO_DEALS = 2000
CHANNEL_SPEND_DIR = (DEFAULT_DATASET / CHANNEL_SPEND_FILE).parent  # the generator's sample CSV of other channels


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def demo_steps(today: dt.date) -> list[tuple[str, dt.datetime, dict[str, Any]]]:
    """(DAG id, logical date, params) in pipeline order, for the sandbox world's last full day."""
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    return [
        ("hubspot_deals", midnight - dt.timedelta(hours=1), {"full_refresh": True}),
        # Spend as far back as the synchronous analytics reach (90 days before the clock; the run's UTC day spans
        # two account days); older days would go through async reports.
        # dag.test() gives a run the interval that ends at its logical date: midnight covers the last full day.
        ("pinterest_spend", midnight, {"lookback_days": 87}),
        ("attribution_reconcile", midnight - dt.timedelta(days=1), {"channel_spend_dir": str(CHANNEL_SPEND_DIR)}),
        ("pinterest_capi", midnight - dt.timedelta(days=1), {}),
        # The morning run (07:00 UTC) briefs the last full day in the account's time zone.
        ("daily_briefing", midnight + dt.timedelta(hours=7), {}),
    ]


def main() -> None:
    url = os.environ.get("PIN2DEAL_WAREHOUSE_URL")
    if not url:
        sys.exit("PIN2DEAL_WAREHOUSE_URL is not set: run the demo with `make demo`")
    os.environ["AIRFLOW_CONN_PIN2DEAL_WAREHOUSE"] = url  # a postgresql:// URL is an Airflow connection URI

    say(f"Airflow metadata DB in {os.environ['AIRFLOW_HOME']}")
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    subprocess.run(
        [sys.executable, "-m", "airflow", "pools", "import", str(ROOT / "include" / "airflow" / "pools.json")],
        check=True,
        capture_output=True,
    )

    if not (DEFAULT_DATASET / "config.json").exists():
        say(f"generating the demo world ({DEMO_DEALS} deals) in {DEFAULT_DATASET}")
        generate(DEFAULT_DATASET, deals=DEMO_DEALS, seed=7, today=DEFAULT_TODAY)
    server = SandboxServer(SandboxSettings(data_dir=DEFAULT_DATASET)).start()
    sandbox = server.app.state.sandbox
    say(f"sandbox APIs (HubSpot + Pinterest) on {server.url}, clock at {sandbox.today}")
    os.environ.update(airflow_connections(server.url, sandbox.dataset.config))

    from airflow.dag_processing.dagbag import DagBag

    from pin2deal.hooks.warehouse import WarehouseHook

    applied = WarehouseHook().migrate()
    say(f"warehouse {psycopg.conninfo.conninfo_to_dict(url).get('dbname')}: {len(applied)} migrations applied now")

    dagbag = DagBag(dag_folder=str(ROOT / "dags"))
    if dagbag.import_errors:
        sys.exit(f"DAG import errors: {dagbag.import_errors}")
    try:
        for dag_id, logical_date, params in demo_steps(sandbox.today):
            dag = dagbag.get_dag(dag_id)
            if dag is None:
                say(f"skipped {dag_id}: not built yet")
                continue
            say(f"running {dag_id} for {logical_date.isoformat()} {params or ''}")
            run = dag.test(logical_date=logical_date, run_conf=params)
            if run.state != "success":
                sys.exit(f"{dag_id} ended {run.state}; see the task logs under {os.environ['AIRFLOW_HOME']}/logs")
            say(f"{dag_id}: {run.state}")
            if dag_id == "attribution_reconcile":
                reconcile_summary(url)
            if dag_id == "pinterest_capi":
                say_conversions(run)
    finally:
        server.stop()
    report(url)
    say(
        "open it in Airflow's own UI: `make ui` runs Airflow (api-server, scheduler, dag-processor, triggerer) on this "
        "warehouse and the sandbox and prints the URL and login; the pin2deal page is in its menu; `make stop` stops it"
    )


def reconcile_summary(url: str) -> None:
    """What the reconcile found: campaigns by CAC over the months with spend, and CAC per channel."""
    with psycopg.connect(url) as conn:
        campaigns = conn.execute(
            """SELECT name, sum(spend), min(spend_currency), sum(won), mart.cac(sum(spend), sum(won))
               FROM mart.performance
               WHERE model = 'last_touch' AND grain = 'campaign' AND period = 'month'
                 AND period_start >= (SELECT min(period_start) FROM mart.performance WHERE spend > 0)
               GROUP BY grain_id, name HAVING sum(spend) > 0
               ORDER BY 5 NULLS LAST, 2 DESC LIMIT 8"""
        ).fetchall()
        say("Pinterest campaigns by CAC (months with spend; CAC = spend / deals won):")
        for name, spend, currency, won, cac in campaigns:
            shown = f"{cac:,.2f} {currency}" if cac is not None else "- (nothing won)"
            print(f"  {name[:40]:40} spend {spend:>10,.2f} {currency}  won {won:>4}  CAC {shown}")
        channels = conn.execute(
            """SELECT channel_name, sum(spend), min(spend_currency), sum(won), mart.cac(sum(spend), sum(won))
               FROM mart.channel_performance
               WHERE model = 'last_touch' AND period = 'month' AND spend IS NOT NULL
                 AND period_start >= (SELECT min(period_start) FROM mart.performance WHERE spend > 0)
               GROUP BY channel_name ORDER BY 5 NULLS LAST"""
        ).fetchall()
        say("CAC per channel over the same months:")
        for channel, spend, currency, won, cac in channels:
            shown = f"{cac:,.2f} {currency}" if cac is not None else "-"
            print(f"  {channel:12} spend {spend:>10,.2f} {currency}  won {won:>4}  CAC {shown}")


def say_conversions(run: Any) -> None:
    """The sender's summary (its task's return value): what went to Pinterest and why the rest did not."""
    task = next(ti for ti in run.get_task_instances() if ti.task_id == "send_conversions")
    summary = task.xcom_pull(task_ids="send_conversions") or {}
    reasons = ", ".join(f"{reason} {count}" for reason, count in summary.get("skipped_by_reason", {}).items())
    say(
        f"Conversions API: {summary.get('sent', 0)} won deals sent in {summary.get('requests', 0)} request(s), "
        f"{summary.get('failed', 0)} refused, {summary.get('skipped', 0)} skipped ({reasons or 'none'}); "
        "every decision is in ops.capi_ledger"
    )


def report(url: str) -> None:
    """Print the briefing when the pipeline produced one, else what the warehouse holds so far."""
    with psycopg.connect(url) as conn:
        has_briefing = conn.execute("SELECT to_regclass('ops.briefings')").fetchone()[0]
        if has_briefing:
            row = conn.execute(
                "SELECT markdown, chart_png_path FROM ops.briefings ORDER BY briefing_date DESC LIMIT 1"
            ).fetchone()
            if row:
                print("\n" + row[0])
                say(f"chart: {row[1]} (and .svg beside it); the briefing is also in ops.briefings")
                return
        say("no briefing yet (its DAG is not built); the warehouse holds:")
        tables = conn.execute(
            "SELECT schemaname || '.' || relname FROM pg_stat_user_tables "
            "WHERE schemaname IN ('raw', 'mart', 'ops') ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            print(f"  {table:40} {count:>10,} rows")
        issues = conn.execute(
            "SELECT source, field, reason, count(*) FROM ops.record_issues GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ).fetchall()
        if issues:
            say("bad input loaded and flagged (ops.record_issues):")
            for source, field, reason, count in issues:
                print(f"  {source:22} {field:28} {count:>5}  {reason}")


if __name__ == "__main__":
    main()
