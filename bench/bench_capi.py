"""Conversions API at scale: 100,000 won deals delivered in at most 100 requests, against one event per request.

One run, one fresh warehouse database, one sandbox answering every request 20 ms late (``--latency-ms``):

1. **Batched.** 100,000 sendable outbox rows (won yesterday, one contact each) through the real operator
   (``PinterestConversionsOperator``: decide, hash, validate, intent, request, outcome; 1,000 events per request).
   Requests and wall time.
2. **Baseline: one event per request** (the seed's approach), the same operator with ``batch_size=1``, measured
   on a sample (``--sample``, default 1,000 events) and scaled linearly to 100,000: every event then costs one
   request with its latency, and its own intent and outcome transactions, so the time is linear in the events.
3. **Memory.** Peak Python heap (``tracemalloc``) of the batched sender for N/10 and for N events: flat when
   memory holds one batch (server-side cursor, batch by batch), whatever the outbox size.

The sandbox validates every request body against the official spec when it finds it (as in the tests).

``python -m bench capi [--events=100000] [--sample=1000] [--latency-ms=20]``
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Generator
from pathlib import Path

import httpx
import psycopg

from bench.bench_pinterest_spend import fresh_database
from pin2deal.operators.pinterest_capi import PinterestConversionsOperator
from sandbox.connections import airflow_connections
from sandbox.dataset import Dataset
from sandbox.pinterest.spec import SPEC_ENV

ACCOUNT_ID = "549755885175"
FILL = """
INSERT INTO ops.capi_outbox (event_id, stable_key, deal_id, channel, won_at, amount, currency, epik, deal_consent,
                             contacts, inputs_hash)
SELECT 'won_hubspot:' || n, 'hubspot:' || n, n, 'pinterest_paid', %(won_at)s::timestamptz + n * interval '1 ms',
       1000 + n %% 997 + 0.5, 'USD', 'dj0yJnU9' || n, true,
       jsonb_build_array(jsonb_build_object(
           'contact_id', 900000 + n, 'email', 'buyer' || n || '@example.com', 'phone_e164', '+1415555' || lpad((n %% 10000)::text, 4, '0'),
           'first_name', 'Jane', 'last_name', 'Doe' || n, 'consent', true)),
       md5(n::text)
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
"""  # noqa: E501


def fill(url: str, count: int, first: int = 1) -> None:
    won_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE ops.capi_outbox, ops.capi_ledger")
        conn.execute(FILL, {"won_at": won_at, "first": first, "last": first + count - 1})
        conn.execute("VACUUM ANALYZE ops.capi_outbox")


def send(run_id: str, **kwargs) -> tuple[dict, float]:
    started = time.perf_counter()
    summary = PinterestConversionsOperator(task_id="send_conversions", **kwargs).execute({"run_id": run_id})
    return summary, time.perf_counter() - started


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench capi")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--validate", action="store_true", help="let the sandbox validate every body against the spec (~0.65 ms/event)"
    )
    args = parser.parse_args(argv)
    url = fresh_database(os.environ["PIN2DEAL_WAREHOUSE_URL"])
    config = {
        "hubspot_token": "pat-bench", "pinterest_ads_token": f"pina-bench-{uuid.uuid4().hex}",
        "pinterest_conversions_token": "pinc-bench", "ad_account_id": ACCOUNT_ID, "currency": "USD",
        "timezone": "UTC", "today": dt.datetime.now(dt.UTC).date().isoformat(), "properties": {},
    }  # fmt: skip
    validate = args.validate and _spec_loaded()
    with sandbox_process(config, args.latency_ms, validate=validate) as base_url:
        os.environ.update(airflow_connections(base_url, config))
        print(
            f"sandbox (its own process): {args.latency_ms:g} ms latency per request, request validation against "
            f"the spec {'on' if validate else 'off'}"
        )

        fill(url, args.events)
        batched, batched_seconds = send("bench_batched")
        assert batched["sent"] == args.events, batched
        print(
            f"batched: {batched['sent']:,} events in {batched['requests']} requests, {batched_seconds:.1f} s "
            f"({batched['sent'] / batched_seconds:,.0f} events/s)"
        )

        fill(url, args.sample, first=10_000_000)
        single, single_seconds = send("bench_single", batch_size=1)
        assert single["sent"] == args.sample, single
        per_event = single_seconds / args.sample
        scaled = per_event * args.events
        print(
            f"one event per request: {args.sample:,} events (a sample) in {single['requests']:,} requests, "
            f"{single_seconds:.1f} s = {per_event * 1000:.1f} ms/event; scaled to {args.events:,}: {scaled:,.0f} s"
        )
        print(f"speed-up: {scaled / batched_seconds:,.0f}x (target >= 200x); requests: {batched['requests']} "
              f"(target <= {args.events // 1000})")  # fmt: skip

        for count in (args.events // 10, args.events):
            fill(url, count, first=20_000_000)
            tracemalloc.start()
            summary, _ = send(f"bench_memory_{count}")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert summary["sent"] == count, summary
            print(f"peak Python heap sending {count:>7,} events: {peak / 1e6:.1f} MB")


@contextlib.contextmanager
def sandbox_process(config: dict, latency_ms: float, *, validate: bool) -> Generator[str]:
    """``python -m sandbox serve`` in a process of its own: its memory and CPU are not the sender's."""
    data = Path(tempfile.mkdtemp(prefix="pin2deal-bench-capi-"))
    Dataset(config=config).save(data)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "sandbox", "serve", "--data", str(data), "--port", str(port),
               "--no-rate-limits", "--latency-ms", str(latency_ms)]  # fmt: skip
    env = dict(os.environ)
    if not validate:
        env[SPEC_ENV] = str(data / "no-spec.json")  # the emulator serves without validating bodies
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base_url}/_sandbox/clock", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _spec_loaded() -> bool:
    from sandbox.pinterest.spec import load_spec

    return load_spec() is not None
