"""HubSpot extraction throughput against HubSpot's real rate limits, and its memory at 10,000 vs 100,000 deals.

For each size: a generated world (``sandbox.generate``) served by ``python -m sandbox serve`` in its own process
with HubSpot's Professional limits (190 requests per rolling 10 s per app, search 5 per second per account, on
separate budgets), a fresh warehouse database, and the extraction task (``HubSpotDealsToWarehouseOperator``, every
deal modified since before the world began) run in a child process that samples its own RSS.

The bound: a rolling budget of L calls per P seconds cannot start N calls in less than floor((N-1)/L)*P seconds,
so the run cannot finish before max(floor((S-1)/5) s, floor((B-1)/190)*10 s), S = search calls and B = every
other call (properties, pipelines, associations, contacts) that the strategy made. Efficiency = bound / achieved
time (>= 0.90 is the target); the minimum calls any strategy needs (S >= deals/200, associations >= deals/1,000,
contacts >= unique contacts/100) are printed beside them.

The extraction's own CPU (user + system of the child process, every thread, from ``os.times``) is printed per
1,000 deals and as a share of one core: unlike wall time it hardly moves when other work shares the machine, and
it says how close the run is to being CPU-bound (the bound's pace is ~1,000 deals/s). ``--profile`` runs the
extraction under ``cProfile`` on every thread, timed in per-thread CPU (waits on budgets, network and PostgreSQL
count for nothing), and prints the functions with the most cumulative CPU in ms per 1,000 deals; the merged
``pstats`` file stays under ``.local/bench/hubspot/``. Profiling inflates call-heavy code several times over:
compare its figures with each other, and the unprofiled CPU with the unprofiled CPU.

Memory is flat when the growth during the extraction at the largest size is within 20 MiB of the smallest; a size
list without 10,000 gets a 10,000-deal run first as that reference.

``python -m bench hubspot_extract [--sizes 10000,100000] [--profile] [--memory-reference 10000]``
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import math
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".local" / "bench" / "hubspot"
TEN_SECONDLY, SEARCH_PER_SECOND = 190, 5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _world(deals: int) -> Path:
    from sandbox.generate import generate

    path = CACHE / f"world-{deals}"
    if not (path / "config.json").exists():
        generate(path, deals=deals, seed=7, today=dt.date(2025, 6, 30))
    return path


def _serve(data: Path, port: int) -> subprocess.Popen:
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "serve", "--data", str(data), "--port", str(port),
         "--hubspot-per-10s", str(TEN_SECONDLY), "--hubspot-search-per-s", str(SEARCH_PER_SECOND)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if sandbox.poll() is not None:
            raise RuntimeError(f"the sandbox exited: {sandbox.stderr.read().decode()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return sandbox
        except OSError:
            time.sleep(0.2)
    sandbox.kill()
    raise RuntimeError("the sandbox did not start in 300 s")


def _warehouse(server_url: str) -> tuple[str, str]:
    import psycopg

    name = f"pin2deal_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    conn = {"conn_type": "postgres", "host": info.get("host", "127.0.0.1"), "port": int(info.get("port", 5432)),
            "login": info.get("user"), "password": info.get("password"), "schema": name}  # fmt: skip
    return name, json.dumps(conn)


def _drop(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _process_cpu_seconds(pid: int) -> float:
    """user + system CPU of a running process (Linux ``/proc``): the sandbox shares the machine's cores."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_size(deals: int, server_url: str, *, profile: bool = False) -> dict[str, Any]:
    data = _world(deals)
    config = json.loads((data / "config.json").read_text())
    contacts = sum(1 for _ in (data / "hubspot" / "contacts.jsonl").open())
    port = _free_port()
    sandbox = _serve(data, port)
    name, warehouse = _warehouse(server_url)
    hubspot = {"conn_type": "http", "host": "127.0.0.1", "port": port, "schema": "http",
               "password": config["hubspot_token"],
               "extra": {"properties": config["properties"], "rate_limit_per_10s": TEN_SECONDLY,
                         "search_per_second": SEARCH_PER_SECOND}}  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}",
        "AIRFLOW_CONN_PIN2DEAL_WAREHOUSE": warehouse,
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(hubspot),
        "AIRFLOW_HOME": tempfile.mkdtemp(prefix="bench-af-"),
    }
    try:
        child = subprocess.run(
            [sys.executable, "-m", "bench.bench_hubspot_extract", "--child", config["today"],
             *([str(CACHE / f"profile-{deals}.pstats")] if profile else [])],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            raise RuntimeError(f"extraction failed:\n{child.stderr[-4000:]}")
        result = json.loads(child.stdout.strip().splitlines()[-1])
        result["sandbox_cpu_seconds"] = _process_cpu_seconds(sandbox.pid)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        _drop(server_url, name)
    result.update(world_deals=deals, world_contacts=contacts)
    return result


class ThreadProfiles:
    """cProfile on every thread started while active (plus the caller's), in per-thread CPU time.

    ``cProfile`` only sees the thread that enabled it, and the extraction runs in several threads; each one gets
    its own profiler, merged at the end. ``time.thread_time`` makes the figures CPU, not waits."""

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.cpu_by_thread: dict[str, float] = {}
        self._lock = threading.Lock()
        self._run = threading.Thread.run

    def _profiled(self, target: Any) -> None:
        profile = cProfile.Profile(time.thread_time)
        started = time.thread_time()
        profile.enable()
        try:
            target()
        finally:
            profile.disable()
            name = threading.current_thread().name.rstrip("_0123456789") or "thread"
            with self._lock:
                self.profiles.append(profile)
                self.cpu_by_thread[name] = self.cpu_by_thread.get(name, 0.0) + time.thread_time() - started

    def __enter__(self) -> ThreadProfiles:
        original, profiled = self._run, self._profiled
        threading.Thread.run = lambda thread: profiled(lambda: original(thread))  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        threading.Thread.run = self._run  # type: ignore[method-assign]

    def run(self, function: Any) -> Any:
        result: list[Any] = []
        self._profiled(lambda: result.append(function()))
        return result[0]

    def top(self, path: Path, deals: int, limit: int = 40) -> list[tuple[str, float, float, int]]:
        """(function, cumulative ms per 1,000 deals, own ms per 1,000 deals, calls), most cumulative first."""
        stats = pstats.Stats(*self.profiles)
        path.parent.mkdir(parents=True, exist_ok=True)
        stats.dump_stats(path)
        per_1k = 1_000_000 / max(deals, 1)  # seconds -> ms per 1,000 deals
        rows = [
            (f"{Path(file).name}:{line}({name})", cumulative * per_1k, own * per_1k, calls)
            for (file, line, name), (_, calls, own, cumulative, _) in stats.stats.items()  # type: ignore[attr-defined]
        ]
        return sorted(rows, key=lambda row: -row[1])[:limit]


def _cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def child(today: str, profile_path: str | None = None) -> None:
    """Run the extraction task once in this process and print one JSON line: counts, calls, time, CPU, memory."""
    from pin2deal.hooks.warehouse import WarehouseHook
    from pin2deal.operators.hubspot_deals import HubSpotDealsToWarehouseOperator

    WarehouseHook().migrate()
    end = dt.datetime.combine(dt.date.fromisoformat(today), dt.time(), tzinfo=dt.UTC)
    operator = HubSpotDealsToWarehouseOperator(
        task_id="extract_hubspot_deals", data_interval_start=end - dt.timedelta(days=400), data_interval_end=end,
        full_refresh=False, since=None, run_type="backfill", run_after=None,  # exactly this window, every time
    )  # fmt: skip
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * page

    baseline, peak, running = rss(), [0], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], rss())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    profiles = ThreadProfiles() if profile_path else None
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    if profiles is not None:
        with profiles:
            result = profiles.run(lambda: operator.execute({"run_id": "bench"}))
    else:
        result = operator.execute({"run_id": "bench"})
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    running[0] = False
    sampler.join()
    with WarehouseHook().get_conn() as conn:
        loaded = conn.execute("SELECT count(*), count(DISTINCT deal_id) FROM raw.hubspot_deals").fetchone()
        unique_contacts = conn.execute("SELECT count(*) FROM raw.hubspot_contacts").fetchone()[0]
    extra: dict[str, Any] = {}
    if profiles is not None:
        extra = {"profile": profiles.top(Path(profile_path), loaded[1]), "cpu_by_thread": profiles.cpu_by_thread,
                 "profile_path": profile_path}  # fmt: skip
    print(
        json.dumps(
            {
                **result,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "rss_baseline": baseline,
                "rss_peak": max(peak[0], rss()),
                "rows": loaded[0],
                "distinct_rows": loaded[1],
                "unique_contacts": unique_contacts,
                **extra,
            }
        )
    )


def bound_seconds(calls: int, limit: int, period: float) -> float:
    return math.floor(max(calls - 1, 0) / limit) * period


def report(result: dict[str, Any]) -> dict[str, Any]:
    api = result["api"]
    search = api.get("requests.search", 0)
    others = {kind.removeprefix("requests."): n for kind, n in api.items()
              if kind.startswith("requests.") and kind != "requests.search"}  # fmt: skip
    batch = sum(others.values())
    search_bound = bound_seconds(search, SEARCH_PER_SECOND, 1.0)
    batch_bound = bound_seconds(batch, TEN_SECONDLY, 10.0)
    bound = max(search_bound, batch_bound)
    deals = result["distinct_rows"]
    minimum = {"search": math.ceil(deals / 200), "associations": math.ceil(deals / 1000),
               "contacts": math.ceil(result["unique_contacts"] / 100)}  # fmt: skip
    growth = (result["rss_peak"] - result["rss_baseline"]) / 2**20
    print(f"-- {result['world_deals']:,} deals ({result['world_contacts']:,} contacts in the world)")
    print(
        f"   loaded: {result['rows']:,} deal rows ({deals:,} distinct), {result['unique_contacts']:,} contacts, "
        f"{result['deal_issues']} deal + {result['contact_issues']} contact issues flagged"
    )
    print(
        f"   calls: search {search} (min {minimum['search']}), 10-s budget {batch} = {others} "
        f"(min associations {minimum['associations']}, contacts {minimum['contacts']})"
    )
    print(
        f"   bound: max(floor(({search}-1)/{SEARCH_PER_SECOND})*1 s = {search_bound:.0f} s, "
        f"floor(({batch}-1)/{TEN_SECONDLY})*10 s = {batch_bound:.0f} s) = {bound:.0f} s"
    )
    cpu_per_1k = result["cpu_seconds"] / max(deals, 1) * 1000
    print(
        f"   achieved: {result['seconds']:.1f} s -> {bound / result['seconds']:.1%} of the rate-limit bound; "
        f"{deals / result['seconds']:,.0f} deals/s"
    )
    print(
        f"   extraction CPU: {result['cpu_seconds']:.1f} s = {cpu_per_1k:.3f} CPU-s per 1,000 deals, "
        f"{result['cpu_seconds'] / result['seconds']:.1%} of one core over the run "
        f"(the bound's pace needs {result['cpu_seconds'] / max(bound, 1):.1%} of one core); "
        f"the sandbox serving it used {result['sandbox_cpu_seconds']:.1f} CPU-s"
    )
    print(
        f"   429s: {api.get('rate_limited', 0)} seen, all handled (a 429 not retried fails the run); "
        f"5xx {api.get('server_errors', 0)}, budget wait {api.get('budget_wait_ms', 0) / 1000:.0f} s"
    )
    print(
        f"   memory: RSS {result['rss_baseline'] / 2**20:.0f} MiB before, peak {result['rss_peak'] / 2**20:.0f} MiB "
        f"(+{growth:.0f} MiB during the extraction)"
    )
    if "profile" in result:
        threads = ", ".join(f"{name} {cpu:.1f} s" for name, cpu in sorted(result["cpu_by_thread"].items()))
        print(f"   profile (cProfile, thread CPU; {result['profile_path']}); CPU by thread: {threads}")
        print(f"   {'cumulative':>10} {'own':>8} {'calls':>10}  ms per 1,000 deals")
        for function, cumulative, own, calls in result["profile"]:
            print(f"   {cumulative:10.1f} {own:8.1f} {calls:10,}  {function}")
    return {
        "deals": deals,
        "seconds": result["seconds"],
        "bound": bound,
        "ratio": bound / result["seconds"],
        "growth_mib": growth,
        "rate_limited": api.get("rate_limited", 0),
        "cpu_per_1k": cpu_per_1k,
        "core_share": result["cpu_seconds"] / result["seconds"],
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        child(*argv[1:3])
        return
    parser = argparse.ArgumentParser(prog="bench_hubspot_extract")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--profile", action="store_true", help="profile the extraction (slower); see the docstring")
    parser.add_argument("--memory-reference", type=int, default=10_000, help="deals of the memory reference run")
    args, _ = parser.parse_known_args(argv)
    server_url = os.environ.get("PIN2DEAL_WAREHOUSE_URL")
    if not server_url:
        server_url = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "local_postgres.py"), "url"], capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
    sizes = [int(size) for size in args.sizes.split(",")]
    if args.memory_reference and args.memory_reference not in sizes:  # flat memory is judged against a small run
        print(f"-- a {args.memory_reference:,}-deal run first, as the memory reference (--memory-reference=0: none)")
        sizes.insert(0, args.memory_reference)
    summaries = [report(run_size(size, server_url, profile=args.profile)) for size in sizes]
    if len(summaries) > 1:
        small, large = summaries[0], summaries[-1]
        print(
            f"-- memory growth {small['growth_mib']:.0f} MiB at {small['deals']:,} deals vs "
            f"{large['growth_mib']:.0f} MiB at {large['deals']:,} deals: "
            f"{abs(large['growth_mib'] - small['growth_mib']):.0f} MiB apart (flat: within 20 MiB)"
        )
    for summary in summaries:
        print(
            f"-- {summary['deals']:,} deals: {summary['ratio']:.1%} of the rate-limit bound, "
            f"{summary['cpu_per_1k']:.3f} CPU-s per 1,000 deals, {summary['core_share']:.1%} of one core"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
