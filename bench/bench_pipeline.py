"""Load (issue 13): a generated world through all five DAGs end to end; wall time and peak memory per DAG run and
per task; the warehouse's counts checked against the world at the end.

    make bench BENCH_ARGS="pipeline --deals=20000"
    make bench BENCH_ARGS="pipeline --deals=1000000 --max-campaigns=2300"   # the issue's size: ~20,000 ads

Each DAG runs with ``airflow dags test`` in its own process, in pipeline order, for the world's last day;
``pinterest_spend`` runs once per 90-day slice to load a year of spend (the older slices through async reports).
The sandbox serves from its own process without rate limits (the extraction's throughput under HubSpot's real
limits is the hubspot_extract benchmark); the warehouse is a fresh database on ``PIN2DEAL_WAREHOUSE_URL``'s server;
Airflow's metadata is SQLite in a temporary home.

**Memory per task.** ``airflow dags test`` runs the tasks one after the other inside its own process, so a task's
peak is that process's peak while the task ran. A sampler thread, every 0.1 s, reads the kernel's high-water mark
(``VmHWM``) of the DAG run's process tree and of the sandbox's process, then resets it (``5`` written to
``/proc/<pid>/clear_refs``): each sample is the peak RSS of the interval since the previous one, so a spike between
two samples is not missed. Samples are attributed to the tasks whose task-instance start and end times cover them.
The process's RSS when the task started is shown beside its peak: in production each task is a fresh process, and
Python keeps memory an earlier task freed, so the difference is what the task itself added. PostgreSQL: the summed
private memory (``RssAnon``: sorts, hashes, caches; the shared buffers excluded) of the backends connected to the
bench's database, sampled at the same rate (their pids refreshed every second); only when the server is local.

**Checks.** The run fails (exit status 1, logs and database kept) unless every DAG run succeeded and the warehouse
holds what the world says: every deal (the archived ones flagged), the live contacts of the deals, every ad-day
before the account's current day, exactly one final ``ops.capi_ledger`` decision per live won deal, and the
briefing of the last day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import psutil
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date(2025, 6, 30)
SLICE_DAYS = 90  # one pinterest_spend run: its day and 89 lookback days
DAGS = ("hubspot_deals", "pinterest_spend", "attribution_reconcile", "pinterest_capi", "daily_briefing")
TICK = 0.1  # seconds between memory samples
FINAL_STATES = ("sent", "failed", "skipped")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", None}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spend_until(timezone: str) -> dt.date:
    """The last account day the spend runs reach: the one ended at the end of the latest run's data interval."""
    return last_ended_day(max(date for dag_id, date, _ in steps(TODAY) if dag_id == "pinterest_spend")
                          + dt.timedelta(days=1), timezone)  # fmt: skip


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


# --- the world ---------------------------------------------------------------------------------------------------
def _moment(value: Any) -> bool:
    """Whether a HubSpot datetime value (ISO-8601 or epoch ms) is one."""
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    try:
        if text.isdigit():
            dt.datetime.fromtimestamp(int(text) / 1000, dt.UTC)
        else:
            dt.datetime.fromisoformat(text)
    except (OverflowError, OSError, ValueError):
        return False
    return True


def last_ended_day(moment: dt.datetime, timezone: str) -> dt.date:
    """The last day of the ad account's time zone that had ended at ``moment``."""
    return moment.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)


def world_counts(dataset: Any, spend_until: dt.date) -> dict[str, int]:
    """What the warehouse must hold once every DAG ran, from the dataset alone (never from pin2deal's code).
    Associations of archived deals are not readable (HubSpot answers NO_ASSOCIATIONS_FOUND), so the contacts are
    those of live deals; the spend is every ad-day up to ``spend_until``."""
    won_stages = {
        (pipeline["id"], stage["id"])
        for pipeline in dataset.pipelines["results"]
        for stage in pipeline["stages"]
        if str(stage["metadata"].get("isClosed")).lower() == "true"
        and float(stage["metadata"].get("probability") or 0) == 1.0
    }
    won = 0
    for deal in dataset.deals:
        props = deal["properties"]
        stage = (props.get("pipeline"), props.get("dealstage"))
        if not deal.get("archived") and stage in won_stages:
            won += _moment(props.get(f"hs_v2_date_entered_{stage[1]}")) or _moment(props.get("closedate"))
    contact_ids = {int(contact["id"]) for contact in dataset.contacts}
    linked = {
        int(contact)
        for deal in dataset.deals
        if not deal.get("archived")
        for contact in deal.get("associations", {}).get("contacts", [])
    }
    return {
        "deals": len(dataset.deals),
        "archived deals": sum(bool(deal.get("archived")) for deal in dataset.deals),
        "contacts": len(dataset.contacts),
        "contacts of live deals": len(linked & contact_ids),
        "campaigns": len(dataset.campaigns),
        "ad groups": len(dataset.ad_groups),
        "ads": len(dataset.ads),
        "ad-days": len(dataset.analytics),
        f"ad-days to {spend_until}": sum(row["DATE"] <= spend_until.isoformat() for row in dataset.analytics),
        "won deals": won,
    }


def _generate(out: Path, deals: int, seed: int, max_campaigns: int | None) -> tuple[dict[str, Any], dict[str, int]]:
    from sandbox import generate as generator
    from sandbox.generate import pinterest as pinterest_world

    if max_campaigns:  # read where the campaigns are drawn
        pinterest_world.MAX_CAMPAIGNS = max_campaigns
    dataset = generator.generate(out, deals=deals, seed=seed, today=TODAY)
    return dataset.config, world_counts(dataset, spend_until(dataset.config["timezone"]))


def generate_world(out: Path, deals: int, seed: int, max_campaigns: int | None) -> tuple[dict, dict[str, int]]:
    """Generates in a child process, so the world's million objects do not stay in the bench's memory."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(_generate, (out, deals, seed, max_campaigns))


# --- memory ------------------------------------------------------------------------------------------------------
def _status_kib(pid: int) -> dict[str, int]:
    """The kB fields of /proc/<pid>/status (empty once the process is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    fields = {}
    for line in lines:
        key, _, value = line.partition(":")
        if value.endswith("kB"):
            fields[key] = int(value.split()[0])
    return fields


def _peak_and_reset(pid: int) -> tuple[int, int]:
    """(peak RSS since the previous call, RSS now) of a process in kB; resets the kernel's high-water mark."""
    fields = _status_kib(pid)
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass
    return fields.get("VmHWM", 0), fields.get("VmRSS", 0)


@dataclass
class Sample:
    at: float  # time.time() at the end of the interval the sample covers
    dag_peak: int  # kB, the DAG run's process tree, peak of the interval
    dag_rss: int  # kB, at the sample
    sandbox_peak: int
    postgres: int  # kB of private memory of the bench database's backends, at the sample
    load: float  # 1-minute load average


class MemorySampler(threading.Thread):
    """See the module docstring (Memory per task)."""

    def __init__(self, sandbox_pid: int, server_url: str, database: str) -> None:
        super().__init__(daemon=True)
        self.sandbox_pid, self.server_url, self.database = sandbox_pid, server_url, database
        self.dag_pid: int | None = None
        self.samples: list[Sample] = []
        self.done = threading.Event()

    def run(self) -> None:
        local = urlsplit(self.server_url).hostname in LOCAL_HOSTS
        tree: list[int] = []
        backends: list[int] = []
        refreshed, tree_of = 0.0, None
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            while not self.done.wait(TICK):
                now, dag_pid = time.time(), self.dag_pid
                if now - refreshed >= 1 or dag_pid != tree_of:
                    tree, tree_of = self._tree(dag_pid), dag_pid
                    if local:
                        backends = [row[0] for row in conn.execute(
                            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))]  # fmt: skip
                    refreshed = now
                dag = [_peak_and_reset(pid) for pid in tree]
                postgres = sum(_status_kib(pid).get("RssAnon", 0) for pid in backends)
                self.samples.append(
                    Sample(now, sum(peak for peak, _ in dag), sum(rss for _, rss in dag),
                           _peak_and_reset(self.sandbox_pid)[0], postgres, os.getloadavg()[0])
                )  # fmt: skip

    @staticmethod
    def _tree(pid: int | None) -> list[int]:
        if pid is None:
            return []
        try:
            return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
        except psutil.NoSuchProcess:
            return []

    def between(self, start: float, end: float) -> list[Sample]:
        """The samples whose interval overlaps [start, end]."""
        return [sample for sample in list(self.samples) if start < sample.at <= end + TICK]


def _mib(kib: float) -> str:
    return f"{kib / 1024:,.0f} MiB"


# --- runs --------------------------------------------------------------------------------------------------------
@dataclass
class DagRun:
    dag_id: str
    day: dt.date
    start: float
    end: float
    peak_kib: int  # the peak of the process's own RSS (getrusage); the report shows its tree's (sampled)
    status: int
    cpu: float = 0.0  # CPU seconds (user + system) of the process and its waited-for children
    sandbox_cpu: float = 0.0  # CPU seconds of the sandbox's process meanwhile


@dataclass
class TaskRun:
    dag_id: str
    task_id: str
    start: float
    end: float
    state: str


def run_dag(env: dict[str, str], sampler: MemorySampler, dag_id: str, logical_date: dt.datetime, conf: dict) -> DagRun:
    """One ``airflow dags test`` process, its tree watched by the sampler."""
    command = [sys.executable, "-m", "airflow", "dags", "test", dag_id, logical_date.isoformat(), "-c",
               json.dumps(conf)]  # fmt: skip
    start, sandbox = time.time(), psutil.Process(sampler.sandbox_pid)
    sandbox_cpu = sum(sandbox.cpu_times()[:2])
    with open(Path(env["AIRFLOW_HOME"]) / f"{dag_id}.log", "a") as log:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        sampler.dag_pid = process.pid
        _, status, usage = os.wait4(process.pid, 0)
        sampler.dag_pid = None
    return DagRun(dag_id, logical_date.date(), start, time.time(), usage.ru_maxrss, os.waitstatus_to_exitcode(status),
                  usage.ru_utime + usage.ru_stime, sum(sandbox.cpu_times()[:2]) - sandbox_cpu)  # fmt: skip


def _epoch(value: str | None) -> float | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def task_runs(home: Path) -> list[TaskRun]:
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT dag_id, task_id, start_date, end_date, state FROM task_instance "
            "WHERE start_date IS NOT NULL ORDER BY start_date"
        ).fetchall()
    return [TaskRun(dag_id, task_id, _epoch(start), _epoch(end) or time.time(), state or "")
            for dag_id, task_id, start, end, state in rows]  # fmt: skip


def report(runs: list[DagRun], tasks: list[TaskRun], sampler: MemorySampler) -> None:
    print("\n| DAG run | day | wall | CPU (DAG, sandbox) | peak RSS | sandbox peak RSS | PostgreSQL private "
          "| load avg (mean, max) | exit |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |")  # fmt: skip
    for run in runs:
        samples = sampler.between(run.start, run.end) or [Sample(run.end, 0, 0, 0, 0, 0.0)]
        loads = [sample.load for sample in samples]
        peak = max(run.peak_kib, *(s.dag_peak for s in samples))
        print(f"| {run.dag_id} | {run.day} | {run.end - run.start:,.1f} s | {run.cpu:,.0f} s, {run.sandbox_cpu:,.0f} s "
              f"| {_mib(peak)} | "
              f"{_mib(max(s.sandbox_peak for s in samples))} | {_mib(max(s.postgres for s in samples))} | "
              f"{sum(loads) / len(loads):.1f}, {max(loads):.1f} | {run.status} |")  # fmt: skip
    print("\nPer task (pinterest_spend's five runs summed for wall time, their maximum for memory):")
    print("| DAG | task | wall | peak RSS | RSS at start | sandbox peak RSS | PostgreSQL private |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    grouped: dict[tuple[str, str], list[tuple[TaskRun, list[Sample]]]] = {}
    for task in tasks:
        grouped.setdefault((task.dag_id, task.task_id), []).append((task, sampler.between(task.start, task.end)))
    for (dag_id, task_id), entries in grouped.items():
        samples = [sample for _, group in entries for sample in group]
        if not samples:
            print(f"| {dag_id} | {task_id} | {sum(t.end - t.start for t, _ in entries):.1f} s | (not sampled) |||||")
            continue
        heaviest = max(entries, key=lambda entry: max((s.dag_peak for s in entry[1]), default=0))[1]
        failed = "" if all(t.state == "success" for t, _ in entries) else f" ({entries[-1][0].state})"
        print(f"| {dag_id} | {task_id}{failed} | {sum(t.end - t.start for t, _ in entries):,.1f} s | "
              f"{_mib(max(s.dag_peak for s in samples))} | {_mib(heaviest[0].dag_rss if heaviest else 0)} | "
              f"{_mib(max(s.sandbox_peak for s in samples))} | {_mib(max(s.postgres for s in samples))} |")  # fmt: skip
    loads = [sample.load for sample in sampler.samples]
    if loads:
        print(f"\nload average (1 min) during the run: min {min(loads):.1f}, mean {sum(loads) / len(loads):.1f}, "
              f"max {max(loads):.1f} ({os.cpu_count()} CPUs)")  # fmt: skip


def check(url: str, world: dict[str, int], timezone: str) -> list[str]:
    """The warehouse against the world: every mismatch as a sentence."""
    briefing = next(date for dag_id, date, _ in steps(TODAY) if dag_id == "daily_briefing")
    briefing_day = last_ended_day(briefing, timezone)
    with psycopg.connect(url) as conn:
        one = lambda query, *args: conn.execute(query, args).fetchone()  # noqa: E731
        deals, archived = one("SELECT count(*), count(*) FILTER (WHERE archived) FROM raw.hubspot_deals")
        contacts = one("SELECT count(*) FROM raw.hubspot_contacts WHERE NOT archived")[0]
        ad_days = one("SELECT count(*) FROM raw.pinterest_ad_daily")[0]
        ledger, final = one("SELECT count(*), count(*) FILTER (WHERE state = ANY(%s)) FROM ops.capi_ledger",
                            list(FINAL_STATES))  # fmt: skip
        won = one("SELECT count(*) FROM mart.deal_attribution WHERE is_won AND won_at IS NOT NULL")[0]
        states = dict(conn.execute("SELECT state, count(*) FROM ops.capi_ledger GROUP BY state").fetchall())
        briefings = one("SELECT count(*) FROM ops.briefings WHERE briefing_date = %s", briefing_day)[0]
    print(f"\nwarehouse: {deals:,} deals ({archived:,} archived), {contacts:,} live contacts, {ad_days:,} ad-days, "
          f"{won:,} won deals in mart.deal_attribution, {ledger:,} ledger decisions {states}, "
          f"{briefings} briefing for {briefing_day}")  # fmt: skip
    wanted = [
        ("deals", deals, world["deals"]),
        ("archived deals", archived, world["archived deals"]),
        ("contacts of live deals", contacts, world["contacts of live deals"]),
        ("ad-days", ad_days, world[f"ad-days to {spend_until(timezone)}"]),
        ("won deals in mart.deal_attribution", won, world["won deals"]),
        ("ledger decisions (one per won deal)", ledger, world["won deals"]),
        ("final ledger decisions", final, world["won deals"]),
        (f"briefings for {briefing_day}", briefings, 1),
    ]
    return [f"{name}: the warehouse has {got:,}, the world says {want:,}" for name, got, want in wanted if got != want]


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (" (with uncommitted changes)" if git("status", "--porcelain") else "")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench_pipeline")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--max-campaigns", type=int, default=None, help="raise the generator's campaign cap")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    run_world(args.deals, args.seed, args.max_campaigns)


def run_world(
    deals: int, seed: int, max_campaigns: int | None, *, dags: tuple[str, ...] = DAGS,
    then: Callable[[str], None] | None = None,
) -> None:
    """Generate a world and run ``dags`` (in pipeline order) on it; then ``then(warehouse url)``. With every DAG,
    check the warehouse against the world (exit status 1 when it does not hold it)."""
    server_url = os.environ.get("PIN2DEAL_WAREHOUSE_URL")
    if not server_url:
        sys.exit("PIN2DEAL_WAREHOUSE_URL is not set: run with `make bench BENCH_ARGS=pipeline`")
    missing = [dag_id for dag_id in DAGS if not (ROOT / "dags" / f"{dag_id}.py").exists()]
    if missing:
        sys.exit(f"DAGs missing from this checkout: {', '.join(missing)}")

    from sandbox.connections import airflow_connections

    print(f"commit {_commit()}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="pin2deal-bench-pipeline-"))
    started = time.perf_counter()
    config, world = generate_world(work / "world", deals, seed, max_campaigns)
    print(f"world generated in {time.perf_counter() - started:.0f} s: "
          + ", ".join(f"{value:,} {name}" for name, value in world.items()), flush=True)  # fmt: skip

    port = _free_port()
    started = time.perf_counter()
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
    hubspot = json.loads(env["AIRFLOW_CONN_HUBSPOT_DEFAULT"])
    hubspot["extra"].update(rate_limit_per_10s=100_000, search_per_second=10_000)  # the sandbox has no limits here
    env["AIRFLOW_CONN_HUBSPOT_DEFAULT"] = json.dumps(hubspot)
    runs: list[DagRun] = []
    problems: list[str] = []
    sampler = MemorySampler(sandbox.pid, server_url, name)
    sampler.start()
    completed = False
    try:
        deadline = time.monotonic() + 1800
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/_sandbox/clock", timeout=5).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or sandbox.poll() is not None:
                    sys.exit(f"the sandbox did not start; see {work / 'sandbox.log'}")
                time.sleep(1)
        print(f"sandbox serving after {time.perf_counter() - started:.0f} s, "
              f"{_mib(_status_kib(sandbox.pid).get('VmRSS', 0))}", flush=True)  # fmt: skip
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
        for dag_id, logical_date, conf in (step for step in steps(TODAY) if step[0] in dags):
            run = run_dag(env, sampler, dag_id, logical_date, conf)
            runs.append(run)
            peak = max((s.dag_peak for s in sampler.between(run.start, run.end)), default=run.peak_kib)
            print(f"{dag_id} {run.day}: {run.end - run.start:.1f} s, CPU {run.cpu:.0f} s "
                  f"(sandbox {run.sandbox_cpu:.0f} s), peak {_mib(peak)}, exit {run.status}",
                  flush=True)  # fmt: skip
            if run.status:
                problems.append(f"{dag_id} {run.day} failed (exit {run.status}): see {home / (dag_id + '.log')}")
        sampler.done.set()
        sampler.join()
        report(runs, task_runs(home), sampler)
        if dags == DAGS:
            problems += check(env["AIRFLOW_CONN_PIN2DEAL_WAREHOUSE"], world, config["timezone"])
        if then is not None and not problems:
            then(env["AIRFLOW_CONN_PIN2DEAL_WAREHOUSE"])
        completed = True
    finally:
        sampler.done.set()
        sandbox.terminate()
        sandbox.wait(timeout=60)
        if problems or not completed:
            print(f"logs kept in {home}; warehouse database {name} kept", flush=True)
        else:
            with psycopg.connect(server_url, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("\nCHECK FAILED:\n- " + "\n- ".join(problems), flush=True)
        sys.exit(1)
    if dags == DAGS:
        print("\nchecks passed: every DAG run succeeded and the warehouse holds what the world says", flush=True)
