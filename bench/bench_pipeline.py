"""Load (issue 13): a generated world through every DAG end to end, wall time and peak memory per DAG run and
wall time per task.

    make bench BENCH_ARGS="pipeline --deals=100000"
    make bench BENCH_ARGS="pipeline --deals=1000000 --max-campaigns=2300"   # the issue's size: ~20,000 ads

Each DAG runs with ``airflow dags test`` in its own process (tasks run inside it, so the process's peak RSS is the
peak of its heaviest task), in pipeline order, for the world's last day; ``pinterest_spend`` runs once per 90-day
slice to load a year of spend (the older slices through async reports). The sandbox serves from its own process
without rate limits (the extraction's throughput under HubSpot's real limits is the hubspot_extract benchmark);
the warehouse is a fresh database on ``PIN2DEAL_WAREHOUSE_URL``'s server; Airflow's metadata is SQLite in a
temporary home. Per-task times come from the run's task instances.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2025, 6, 30)
SLICE_DAYS = 90  # one pinterest_spend run: its day and 89 lookback days


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def steps(today: dt.date) -> list[tuple[str, dt.datetime, dict]]:
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    spend = [
        ("pinterest_spend", midnight - dt.timedelta(days=1 + SLICE_DAYS * n), {"lookback_days": SLICE_DAYS - 1})
        for n in range(5)  # 450 days: a year and the lead-time before it
    ]
    return [
        ("hubspot_deals", midnight - dt.timedelta(hours=1), {"full_refresh": True}),
        *spend,
        ("attribution_reconcile", midnight - dt.timedelta(days=1), {}),
        ("pinterest_capi", midnight - dt.timedelta(days=1), {}),
        ("daily_briefing", midnight - dt.timedelta(days=1), {}),
    ]


def run_dag(env: dict[str, str], dag_id: str, logical_date: dt.datetime, conf: dict) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit status) of one ``airflow dags test`` process."""
    command = [sys.executable, "-m", "airflow", "dags", "test", dag_id, logical_date.isoformat(), "-c",
               json.dumps(conf)]  # fmt: skip
    started = time.perf_counter()
    with open(Path(env["AIRFLOW_HOME"]) / f"{dag_id}.log", "a") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def task_times(home: Path, dag_id: str) -> list[tuple[str, float]]:
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, sum(duration) FROM task_instance WHERE dag_id = ? "
            "GROUP BY task_id ORDER BY min(start_date)",
            (dag_id,),
        ).fetchall()
    return [(task_id, duration or 0.0) for task_id, duration in rows]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_pipeline")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--max-campaigns", type=int, default=None, help="raise the generator's campaign cap")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    server_url = os.environ.get("PIN2DEAL_WAREHOUSE_URL")
    if not server_url:
        sys.exit("PIN2DEAL_WAREHOUSE_URL is not set: run with `make bench BENCH_ARGS=pipeline`")

    from sandbox import generate as generator
    from sandbox.connections import airflow_connections

    if args.max_campaigns:
        generator.MAX_CAMPAIGNS = args.max_campaigns
    work = Path(tempfile.mkdtemp(prefix="pin2deal-bench-pipeline-"))
    started = time.perf_counter()
    dataset = generator.generate(work / "world", deals=args.deals, seed=args.seed, today=TODAY)
    print(f"world: {len(dataset.deals):,} deals, {len(dataset.contacts):,} contacts, {len(dataset.ads):,} ads, "
          f"{len(dataset.analytics):,} ad-days of spend; generated in {time.perf_counter() - started:.0f} s",
          flush=True)  # fmt: skip
    config = dataset.config
    del dataset

    port = _free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--data", str(work / "world"), "--port", str(port),
         "--no-rate-limits"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(work / "sandbox.log").open("w"),
    )  # fmt: skip
    name = f"pin2deal_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    home = work / "airflow"
    home.mkdir()
    env = {
        **os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}", "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": urlsplit(server_url)._replace(path=f"/{name}").geturl(),
        **airflow_connections(f"http://127.0.0.1:{port}", config),
    }  # fmt: skip
    results: list[tuple[str, dt.date, float, float, int]] = []
    hubspot = json.loads(env["AIRFLOW_CONN_HUBSPOT_DEFAULT"])
    hubspot["extra"].update(rate_limit_per_10s=100_000, search_per_second=10_000)  # the sandbox has no limits here
    env["AIRFLOW_CONN_HUBSPOT_DEFAULT"] = json.dumps(hubspot)
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_sandbox/clock", timeout=5).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or sandbox.poll() is not None:
                    sys.exit(f"the sandbox did not start; see {work / 'sandbox.log'}")
                time.sleep(1)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
        dags = {path.stem for path in (ROOT / "dags").glob("*.py")}
        for dag_id, logical_date, conf in steps(TODAY):
            if dag_id not in dags:
                print(f"{dag_id}: not built in this checkout, skipped", flush=True)
                continue
            wall, rss, status = run_dag(env, dag_id, logical_date, conf)
            results.append((dag_id, logical_date.date(), wall, rss, status))
            print(f"{dag_id} {logical_date.date()}: {wall:.1f} s, peak {rss:.0f} MiB, exit {status}", flush=True)
            if status:
                print(f"  see {home / (dag_id + '.log')}", flush=True)
        print("\n| DAG run | wall | peak RSS | tasks (wall, summed over runs) |\n| --- | --- | --- | --- |")
        for dag_id in dict.fromkeys(result[0] for result in results):
            runs = [result for result in results if result[0] == dag_id]
            tasks = ", ".join(f"{task} {seconds:.1f} s" for task, seconds in task_times(home, dag_id))
            wall, rss = sum(run[2] for run in runs), max(run[3] for run in runs)
            label = dag_id if len(runs) == 1 else f"{dag_id} ({len(runs)} runs)"
            failed = " FAILED" if any(run[4] for run in runs) else ""
            print(f"| {label}{failed} | {wall:.1f} s | {rss:.0f} MiB | {tasks} |")
        with psycopg.connect(env["AIRFLOW_CONN_PIN2DEAL_WAREHOUSE"]) as conn:
            for table in ("raw.hubspot_deals", "raw.pinterest_ad_daily", "ops.capi_ledger"):
                if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]:
                    print(f"{table}: {conn.execute(f'SELECT count(*) FROM {table}').fetchone()[0]:,} rows")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        failed = any(result[4] for result in results)
        if failed:
            print(f"logs kept in {home}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
