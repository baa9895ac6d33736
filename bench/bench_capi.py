"""Conversions API at scale: 100,000 won deals, a lead and a checkout each, delivered in ceil(events / 1,000)
requests per kind, against one event per request.

One run, one fresh warehouse database, one sandbox answering every request 20 ms late (``--latency-ms``):

1. **Batched.** 100,000 won deals' sendable outbox rows, a ``lead`` (created two days ago) and a ``checkout`` (won
   yesterday) each, one contact each, through the real operator (``PinterestConversionsOperator``: decide, hash,
   validate, intent, request, outcome; 1,000 events of one kind per request). Requests and wall time.
2. **Baseline: one event per request** (the seed's approach), the same operator with ``batch_size=1``, measured
   on a sample (``--sample``, default 1,000 deals) and scaled linearly to 100,000 deals: every event then costs one
   request with its latency, and its own intent and outcome transactions, so the time is linear in the events.
3. **Memory.** Peak Python heap (``tracemalloc``) of the batched sender for N/10 and for N events: flat when
   memory holds one batch (server-side cursor, batch by batch), whatever the outbox size.

The sandbox validates every request body against the official spec when it finds it (as in the tests).

``python -m bench capi [--events=100000] [--sample=1000] [--latency-ms=20]``

**An hourly run with nothing changed** (``--hourly``, issue 20): a warehouse of ``--deals`` deals (raw deals,
contacts, ids and ``mart.deal_attribution`` written directly, as a finished reconcile leaves them: 27.5 % won, a
quarter of those Pinterest paid, 2 % of those won two days ago, the rest won 30 to 330 days ago), cloned into two
databases: one migrated and run by the code before issue 20 (``--before``, a ``git archive`` of that commit), one by
this code. Each runs the ``pinterest_capi`` DAG's two tasks (``fill_outbox``, then the operator), each run in a
fresh process as a worker runs it, twice: the first decides every won deal, the second is the hourly run that
finds nothing changed, the one measured (wall time of the two tasks, their imports excluded, and the outbox and
ledger rows it wrote). Printed: both, and the ratio.

``python -m bench capi --hourly [--deals=1000000] [--before=8f755aa] [--stage-events='{"qualifiedtobuy": "signup"}']``
(with ``--stage-events``, "after" runs with that stage mapping: its first run adds and decides the stage events)
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
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
from psycopg import sql

from bench.bench_pinterest_spend import fresh_database
from pin2deal.operators.pinterest_capi import PinterestConversionsOperator
from sandbox.connections import airflow_connections
from sandbox.dataset import Dataset
from sandbox.pinterest.spec import SPEC_ENV

ACCOUNT_ID = "549755885175"
ROOT = Path(__file__).resolve().parents[1]
BRANCH_POINT = "8f755aa"  # the code before issue 20: the "before" of --hourly
FILL = """
INSERT INTO ops.capi_outbox (event_id, event_kind, event_at, stable_key, deal_id, channel, won_at, amount, currency,
                             epik, deal_consent, contacts, inputs_hash)
SELECT kind.prefix || 'hubspot:' || n, kind.name, %(won_at)s::timestamptz + n * interval '1 ms' - kind.earlier,
       'hubspot:' || n, n, 'pinterest_paid',
       CASE kind.name WHEN 'checkout' THEN %(won_at)s::timestamptz + n * interval '1 ms' END,
       CASE kind.name WHEN 'checkout' THEN 1000 + n %% 997 + 0.5 END, CASE kind.name WHEN 'checkout' THEN 'USD' END,
       'dj0yJnU9' || n, true,
       jsonb_build_array(jsonb_build_object(
           'contact_id', 900000 + n, 'email', 'buyer' || n || '@example.com', 'phone_e164', '+1415555' || lpad((n %% 10000)::text, 4, '0'),
           'first_name', 'Jane', 'last_name', 'Doe' || n, 'consent', true)),
       md5(kind.name || n)
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS n
CROSS JOIN (VALUES ('checkout', 'won_', interval '0'), ('lead', 'lead_', interval '1 day')) AS kind (name, prefix, earlier)
"""  # noqa: E501
KINDS = 2  # events per deal: its lead and its checkout


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
    parser.add_argument("--hourly", action="store_true", help="measure an hourly run with nothing changed instead")
    parser.add_argument("--deals", type=int, default=1_000_000, help="--hourly: deals in the warehouse")
    parser.add_argument("--before", default=BRANCH_POINT, help="--hourly: the commit whose code is 'before'")
    parser.add_argument(
        "--stage-events", type=json.loads, default=None,
        help='--hourly: the stage mapping "after" runs with, e.g. \'{"qualifiedtobuy": "signup"}\' (every deal entered '
        "qualifiedtobuy the day before its won time)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.hourly:
        hourly(args.deals, args.before, args.latency_ms, args.stage_events)
        return
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
        events = KINDS * args.events
        assert batched["sent"] == events, batched
        print(
            f"batched: {batched['sent']:,} events ({args.events:,} leads and {args.events:,} checkouts) in "
            f"{batched['requests']} requests, {batched_seconds:.1f} s "
            f"({batched['sent'] / batched_seconds:,.0f} events/s)"
        )

        fill(url, args.sample, first=10_000_000)
        single, single_seconds = send("bench_single", batch_size=1)
        assert single["sent"] == KINDS * args.sample, single
        per_event = single_seconds / single["sent"]
        scaled = per_event * events
        print(
            f"one event per request: {single['sent']:,} events (a sample) in {single['requests']:,} requests, "
            f"{single_seconds:.1f} s = {per_event * 1000:.1f} ms/event; scaled to {events:,}: {scaled:,.0f} s"
        )
        target = KINDS * -(-args.events // 1000)  # ceil(events / 1,000) per kind
        print(f"speed-up: {scaled / batched_seconds:,.0f}x (target >= 200x); requests: {batched['requests']} "
              f"(target: ceil(events / 1,000) per kind = {target})")  # fmt: skip

        for count in (args.events // 10, args.events):
            fill(url, count, first=20_000_000)
            tracemalloc.start()
            summary, _ = send(f"bench_memory_{count}")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert summary["sent"] == KINDS * count, summary
            print(f"peak Python heap sending {KINDS * count:>7,} events: {peak / 1e6:.1f} MB")


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


# -- an hourly run with nothing changed (--hourly) --------------------------------------------------------------------
WORLD = """
INSERT INTO raw.hubspot_contacts (contact_id, properties, email, email_normalized, phone_e164, first_name, last_name,
                                  ads_consent, first_seen_at, loaded_at)
SELECT n, jsonb_build_object('email', 'buyer' || n || '@example.com', 'firstname', 'Jane', 'lastname', 'Doe' || n,
                             'country', 'United States'),
       'buyer' || n || '@example.com', 'buyer' || n || '@example.com',
       '+1415555' || lpad((n %% 10000)::text, 4, '0'), 'Jane', 'Doe' || n, true, %(loaded)s, %(loaded)s
FROM generate_series(1, %(deals)s) AS n;

INSERT INTO raw.hubspot_deals (deal_id, properties, amount, amount_raw, currency, created_at, pipeline, dealstage,
                               hs_is_closed_won, stage_entered_at, epik, utm_source, ads_consent, first_seen_at,
                               loaded_at)
SELECT n, jsonb_build_object('dealname', 'Sofa order ' || n, 'amount', (1000 + n %% 997) || '.50',
                             'deal_currency_code', 'USD', 'pipeline', 'default', 'dealstage', stage,
                             'hs_is_closed_won', won::text, 'createdate', %(loaded)s::text, 'hs_lastmodifieddate',
                             %(loaded)s::text, 'utm_source', source, 'utm_medium', 'paid', 'utm_campaign',
                             'spring sofas ' || n %% 300, 'ads_consent', 'granted'),
       1000 + n %% 997 + 0.5, (1000 + n %% 997) || '.50', 'USD', %(loaded)s, 'default', stage, won,
       jsonb_build_object('qualifiedtobuy', won_at - interval '1 day')
       || CASE WHEN won THEN jsonb_build_object('closedwon', won_at) ELSE '{}' END,
       CASE WHEN channel = 'pinterest_paid' THEN 'dj0yJnU9' || n END, source, true, %(loaded)s, %(loaded)s
FROM generate_series(1, %(deals)s) AS n
CROSS JOIN LATERAL (SELECT n %% 40 < 11 AS won) AS w
CROSS JOIN LATERAL (
    SELECT CASE WHEN w.won THEN 'closedwon' ELSE 'qualifiedtobuy' END AS stage,
           CASE WHEN n %% 20 < 5 THEN 'pinterest_paid' WHEN n %% 20 < 7 THEN 'pinterest_organic'
                WHEN n %% 20 < 10 THEN 'unknown' ELSE 'other' END AS channel,
           %(now)s::timestamptz - CASE WHEN n %% 50 = 0 THEN interval '2 days'
                                       ELSE (30 + n %% 300) * interval '1 day' END AS won_at
) AS d
CROSS JOIN LATERAL (
    SELECT CASE d.channel WHEN 'pinterest_paid' THEN 'pinterest' WHEN 'pinterest_organic' THEN 'pinterest'
                          WHEN 'other' THEN 'google' END AS source
) AS s;

INSERT INTO raw.hubspot_deal_contacts (deal_id, contact_id, loaded_at)
SELECT n, n, %(loaded)s FROM generate_series(1, %(deals)s) AS n;

INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id, first_seen_at)
SELECT 'hubspot:' || n, 'hubspot:' || n, 'self', n, %(loaded)s FROM generate_series(1, %(deals)s) AS n;

INSERT INTO mart.deal_attribution (stable_key, deal_id, channel, epik, is_won, won_at, amount, currency,
                                   home_currency, source_modified_at, utm_source, contact_count, reconciled_at)
SELECT 'hubspot:' || deal_id, deal_id,
       CASE WHEN deal_id %% 20 < 5 THEN 'pinterest_paid' WHEN deal_id %% 20 < 7 THEN 'pinterest_organic'
            WHEN deal_id %% 20 < 10 THEN 'unknown' ELSE 'other' END,
       epik, hs_is_closed_won, (stage_entered_at ->> 'closedwon')::timestamptz, amount, currency, 'USD', loaded_at,
       utm_source, 1, %(loaded)s
FROM raw.hubspot_deals;
"""

# The marts as a published reconcile run leaves them (migration 050): the Conversions API fill reads the raw
# changes the published marts reflect up to that run's watermark.
PUBLISHED = """
WITH run AS (
    INSERT INTO ops.reconcile_runs (run_id, mode, reason, since, watermark, rules_checksum, home_currency,
                                    finished_at, generation, published_at)
    VALUES ('bench', 'full', 'bench world', '-infinity', %(now)s, '', 'USD', %(now)s, 1, %(now)s)
    RETURNING run_id
)
UPDATE ops.mart_publication SET run_id = (SELECT run_id FROM run), published_at = %(now)s
"""

HOURLY_TASKS = """
import json, sys, time
from pin2deal.capi.send import fill_outbox
from pin2deal.hooks.warehouse import WarehouseHook
from pin2deal.operators.pinterest_capi import PinterestConversionsOperator
stages = {"stage_events": json.loads(sys.argv[2])} if len(sys.argv) > 2 else {}
started = time.perf_counter()
with WarehouseHook().get_conn() as conn:
    conn.autocommit = True
    filled = fill_outbox(conn, **stages)
fill_seconds = time.perf_counter() - started
started = time.perf_counter()
summary = PinterestConversionsOperator(task_id="send_conversions", **stages).execute({"run_id": sys.argv[1]})
send_seconds = time.perf_counter() - started
print("RESULT " + json.dumps({"fill": fill_seconds, "send": send_seconds, "filled": filled, "summary": summary}))
"""


def connection_env(url: str) -> str:
    """``pin2deal_warehouse`` on the database ``url``, as an ``AIRFLOW_CONN_*`` value."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return json.dumps({
        "conn_type": "postgres", "host": info.get("host", "127.0.0.1"), "port": int(info.get("port", 5432)),
        "login": info.get("user"), "password": info.get("password"), "schema": info["dbname"],
    })  # fmt: skip


def in_process(code: str, tree: Path, url: str, *args: str) -> str:
    """``code`` run by ``tree``'s pin2deal in a fresh process (as a worker runs a task) on the database ``url``."""
    env = {**os.environ, "PYTHONPATH": f"{tree / 'plugins'}:{ROOT}"}
    env["AIRFLOW_CONN_PIN2DEAL_WAREHOUSE"] = connection_env(url)
    env.pop("PIN2DEAL_HOME", None)
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{tree}: {done.stdout[-2000:]}{done.stderr[-3000:]}")
    return done.stdout


def new_database(server_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        admin.execute(create)
    return psycopg.conninfo.make_conninfo(server_url, dbname=name)


def hourly(deals: int, before: str, latency_ms: float, stage_events: dict[str, str] | None = None) -> None:
    server_url = os.environ["PIN2DEAL_WAREHOUSE_URL"]
    old_tree = Path(tempfile.mkdtemp(prefix="pin2deal-before-"))
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", before, "plugins", "include"], check=True,
                             capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive, check=True)
    migrate = "from pin2deal.hooks.warehouse import WarehouseHook\nWarehouseHook().migrate()\n"
    tag = uuid.uuid4().hex[:8]
    started = time.perf_counter()
    template_url = new_database(server_url, f"pin2deal_bench_hourly_{tag}")
    in_process(migrate, old_tree, template_url)
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(template_url, autocommit=True) as conn:
        for statement in WORLD.split(";\n\n"):
            conn.execute(statement, {"deals": deals, "now": now, "loaded": now - dt.timedelta(days=1)})
        # Only the tables written: an ANALYZE of the empty ops tables would tell the planner they stay empty, and
        # a first run would then scan the growing ledger once per outbox row.
        conn.execute("VACUUM ANALYZE raw.hubspot_deals, raw.hubspot_contacts, raw.hubspot_deal_contacts, "
                     "raw.hubspot_deal_ids, mart.deal_attribution")  # fmt: skip
        won = conn.execute("SELECT count(*) FROM mart.deal_attribution WHERE is_won").fetchone()[0]
    databases = {
        label: new_database(server_url, f"pin2deal_bench_hourly_{tag}_{label}", f"pin2deal_bench_hourly_{tag}")
        for label in ("before", "after")
    }
    in_process(migrate, ROOT, databases["after"])
    with psycopg.connect(databases["after"], autocommit=True) as conn:  # as a reconcile that published them leaves it
        conn.execute(PUBLISHED, {"now": now})
    print(f"world: {deals:,} deals, {won:,} won, in {time.perf_counter() - started:.0f} s; before = {before}, after = "
          f"this tree (stage events: {stage_events or 'none'}); the sandbox in its own process")  # fmt: skip
    config = {
        "hubspot_token": "pat-bench", "pinterest_ads_token": f"pina-bench-{uuid.uuid4().hex}",
        "pinterest_conversions_token": "pinc-bench", "ad_account_id": ACCOUNT_ID, "currency": "USD",
        "timezone": "UTC", "today": now.date().isoformat(), "properties": {},
    }  # fmt: skip
    measured = {}
    with sandbox_process(config, latency_ms, validate=False) as base_url:
        os.environ.update(airflow_connections(base_url, config))
        for label, tree in (("before", old_tree), ("after", ROOT)):
            url = databases[label]
            for run in ("first", "hourly"):
                with psycopg.connect(url) as conn:
                    mark = conn.execute("SELECT clock_timestamp()").fetchone()[0]
                mapping = [json.dumps(stage_events)] if stage_events and label == "after" else []
                output = in_process(HOURLY_TASKS, tree, url, f"bench_{run}", *mapping)
                result = json.loads(output.rsplit("RESULT ", 1)[1])
                with psycopg.connect(url) as conn:
                    written = conn.execute(
                        "SELECT (SELECT count(*) FROM ops.capi_ledger WHERE updated_at >= %(mark)s), "
                        "(SELECT count(*) FROM ops.capi_outbox WHERE updated_at >= %(mark)s)",
                        {"mark": mark},
                    ).fetchone()
                summary = result["summary"]
                print(f"{label:>6} {run:>6} run: fill {result['fill']:7.2f} s, send {result['send']:7.2f} s; "
                      f"decided {summary['processed']:,}, sent {summary['sent']:,}, requests {summary['requests']}; "
                      f"rows written: ledger {written[0]:,}, outbox {written[1]:,}")  # fmt: skip
                if run == "hourly":
                    measured[label] = result["fill"] + result["send"]
    ratio = measured["before"] / measured["after"]
    print(f"hourly run with nothing changed at {deals:,} deals: before {measured['before']:.2f} s, after "
          f"{measured['after']:.2f} s: {ratio:,.0f}x")  # fmt: skip
    with psycopg.connect(server_url, autocommit=True) as admin:
        for name in [f"pin2deal_bench_hourly_{tag}", *(f"pin2deal_bench_hourly_{tag}_{label}" for label in databases)]:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
