"""Pinterest spend at scale: 200 campaigns x 10 ad groups x 10 ads (20,000 ads) over 90 days (1,800,000 ad-days).

Two measurements, in one run, on a fresh warehouse database:

1. **Requests.** The real operators (``refresh_entities``, then ``pull_spend`` for yesterday's interval with a
   89-day lookback: 90 days) against the real sandbox over HTTP, serving the 20,000 ads. The analytics requests
   they send (``ads_analytics`` category: data requests plus ``metrics_ready_state`` checks) are compared with the
   minimum the API's limits allow: ceil(ads / 250 ids per request) x ceil(days / 90 days per request). The
   sandbox's world here has one delivery row per ad, because the number of requests does not depend on the rows
   and building the 1.8M-row world in the sandbox costs minutes (it answers a 250-ad x 90-day request over such a
   world in 0.2-0.6 s).
2. **Load.** The 1,800,000 ad-day rows, as the sync endpoint answers them (one answer per 250 ads x 90 days, the
   pull's batches), through ``AdDayRows`` and ``load_ad_days`` (COPY + one upsert + replace + record issues, one
   transaction per batch) into the empty ``raw.pinterest_ad_daily``; then the same warehouse rows through one raw
   ``COPY`` into an empty table like the target (same keys and indexes, logged: the issue's baseline), and for
   reference into an unlogged and a temp table without indexes. Rates in rows/s and the ratios.
   A second load of the same answers (a re-pull: nothing changes, nothing is rewritten) is timed too.

``python -m bench pinterest_spend [--campaigns=200] [--days=90]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from pin2deal.hooks.pinterest import MAX_IDS_PER_REQUEST, SYNC_MAX_RANGE_DAYS
from pin2deal.hooks.warehouse import WarehouseHook
from pin2deal.pinterest.spend import AD_DAILY_COLUMNS, AdDayRows, chunks, load_ad_days
from sandbox.connections import airflow_connections
from sandbox.dataset import Dataset
from sandbox.server import SandboxServer
from sandbox.settings import SandboxSettings

ACCOUNT_ID = "549755885175"
SAME_TABLE = "table like raw.pinterest_ad_daily (same keys and indexes, logged)"
GROUPS_PER_CAMPAIGN = ADS_PER_GROUP = 10


def world(campaigns: int, today: dt.date) -> tuple[Dataset, list[tuple[str, str, str]]]:
    """The entities (every status), one analytics row per ad, and (ad, ad group, campaign) of every ad."""
    statuses = ("ACTIVE", "PAUSED", "ARCHIVED")
    entities: dict[str, list[dict]] = {"campaigns": [], "ad_groups": [], "ads": []}
    ads, analytics = [], []
    for c in range(campaigns):
        campaign_id, status = str(626_735_000_000 + c), statuses[c % 3]
        entities["campaigns"].append(
            {"id": campaign_id, "ad_account_id": ACCOUNT_ID, "name": f"C{c}", "status": status}
        )
        for g in range(GROUPS_PER_CAMPAIGN):
            group_id = str(268_006_000_000 + c * GROUPS_PER_CAMPAIGN + g)
            entities["ad_groups"].append(
                {"id": group_id, "ad_account_id": ACCOUNT_ID, "campaign_id": campaign_id, "name": f"G{g}",
                 "status": status}
            )  # fmt: skip
            for a in range(ADS_PER_GROUP):
                ad_id = str(687_195_000_000 + (c * GROUPS_PER_CAMPAIGN + g) * ADS_PER_GROUP + a)
                entities["ads"].append(
                    {"id": ad_id, "ad_account_id": ACCOUNT_ID, "campaign_id": campaign_id, "ad_group_id": group_id,
                     "name": f"Pin {a}", "status": status}
                )  # fmt: skip
                ads.append((ad_id, group_id, campaign_id))
                day = today - dt.timedelta(days=3 + len(ads) % 80)
                analytics.append(api_row(ad_id, group_id, campaign_id, day, len(ads)))
    config = {
        "hubspot_token": "pat-bench", "pinterest_ads_token": f"pina-bench-{uuid.uuid4().hex}",
        "pinterest_conversions_token": "pinc-bench", "ad_account_id": ACCOUNT_ID, "currency": "USD",
        "timezone": "UTC", "today": today.isoformat(), "properties": {},
    }  # fmt: skip
    return Dataset(config=config, analytics=analytics, **entities), ads


def api_row(ad_id: str, group_id: str, campaign_id: str, day: dt.date, number: int) -> dict:
    """One row as ``GET .../ads/analytics`` answers it (DATE, AD_ID, requested columns)."""
    return {
        "DATE": day.isoformat(), "AD_ID": ad_id, "SPEND_IN_MICRO_DOLLAR": 1_000_000 + number * 37 % 900_000,
        "PAID_IMPRESSION": 500 + number % 700, "TOTAL_CLICKTHROUGH": number % 40, "TOTAL_CHECKOUT": number % 3,
        "TOTAL_CLICK_CHECKOUT": number % 2, "TOTAL_VIEW_CHECKOUT": 0, "AD_GROUP_ID": group_id,
        "CAMPAIGN_ID": campaign_id,
    }  # fmt: skip


def fresh_database(server_url: str) -> str:
    """A new database on the warehouse server, migrated, with ``pin2deal_warehouse`` pointing at it."""
    name = f"pin2deal_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
    info = psycopg.conninfo.conninfo_to_dict(url)
    os.environ["AIRFLOW_CONN_PIN2DEAL_WAREHOUSE"] = json.dumps(
        {
            "conn_type": "postgres",
            "host": info.get("host", "127.0.0.1"),
            "port": int(info.get("port", 5432)),
            "login": info.get("user"),
            "password": info.get("password"),
            "schema": name,
        }
    )
    WarehouseHook().migrate()
    return url


def measure_requests(campaigns: int, days: int, today: dt.date) -> None:
    from pin2deal.operators.pinterest import PinterestEntitiesOperator, PinterestSpendOperator

    dataset, ads = world(campaigns, today)
    with tempfile.TemporaryDirectory() as tmp, SandboxServer(SandboxSettings(data_dir=Path(tmp)), dataset) as server:
        os.environ.update(airflow_connections(server.url, dataset.config))
        interval = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(), dt.UTC)
        context = {"run_id": "bench", "data_interval_start": interval, "data_interval_end": interval + dt.timedelta(1)}
        started = time.perf_counter()
        entities = PinterestEntitiesOperator(task_id="refresh_entities").execute(context)
        spend = PinterestSpendOperator(task_id="pull_spend", lookback_days=days - 1).execute(context)
        elapsed = time.perf_counter() - started
    minimum = math.ceil(len(ads) / MAX_IDS_PER_REQUEST) * math.ceil(days / SYNC_MAX_RANGE_DAYS)
    data_requests = spend["analytics_requests"] - (spend["provisional_days"] + 1)
    print(f"world: {campaigns} campaigns, {entities['ad_groups']} ad groups, {entities['ads']} ads, {days} days")
    print(
        f"analytics requests: {spend['analytics_requests']} (ads/analytics {data_requests} + metrics_ready_state "
        f"{spend['provisional_days'] + 1}); minimum the limits allow: {minimum} = ceil({len(ads)}/250) x "
        f"ceil({days}/90); {100 * (spend['analytics_requests'] - minimum) / minimum:+.1f} %"
    )
    print(f"ads_read requests (entity listings, 250 a page): {entities['ads_read_requests']}; took {elapsed:.1f} s")


def measure_load(campaigns: int, days: int, today: dt.date, url: str) -> None:
    _, ads = world(campaigns, today)
    first = today - dt.timedelta(days=days)
    last = today - dt.timedelta(days=1)
    hierarchy = {ad_id: (group_id, campaign_id) for ad_id, group_id, campaign_id in ads}
    gc.disable()
    answers = []  # one sync answer per 250 ads x 90 days, as the pull receives them
    for chunk in chunks([ad[0] for ad in ads], MAX_IDS_PER_REQUEST):
        answer = []
        for ad_id in chunk:
            group_id, campaign_id = hierarchy[ad_id]
            for offset in range(days):
                answer.append(api_row(ad_id, group_id, campaign_id, first + dt.timedelta(days=offset), offset))
        answers.append((chunk, answer))
    converter = AdDayRows(ACCOUNT_ID, "USD", hierarchy, provisional_from=last - dt.timedelta(days=1))
    started = time.perf_counter()
    batches = [(chunk, converter.convert(answer)) for chunk, answer in answers]
    convert_seconds = time.perf_counter() - started
    gc.enable()
    rows = sum(len(batch.rows) for _, batch in batches)

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        timings = []
        for label in ("first load (insert)", "re-pull (unchanged)"):
            started = time.perf_counter()
            for chunk, batch in batches:
                load_ad_days(conn, batch, ad_ids=chunk, start=first, end=last, run_id="bench")
            timings.append((label, time.perf_counter() - started))
        stored = conn.execute("SELECT count(*) FROM raw.pinterest_ad_daily").fetchone()[0]
        assert stored == rows, f"{stored} rows stored, {rows} pulled"

        columns = sql.SQL(", ").join(map(sql.Identifier, AD_DAILY_COLUMNS))
        raw = {}
        targets = (
            (SAME_TABLE, "", "INCLUDING ALL", "bench_raw_copy_same"),
            ("unlogged table without indexes", "UNLOGGED", "INCLUDING DEFAULTS", "bench_raw_copy"),
            ("temp table without indexes", "TEMP", "INCLUDING DEFAULTS", "bench_raw_copy_tmp"),
        )
        for label, kind, like, table in targets:
            conn.execute(
                sql.SQL("CREATE {} TABLE {} (LIKE raw.pinterest_ad_daily {})").format(
                    sql.SQL(kind), sql.Identifier(table), sql.SQL(like)
                )
            )
            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur:
                with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), columns)) as copy:
                    for _, batch in batches:
                        for row in batch.rows:
                            copy.write_row(row)
            raw[label] = time.perf_counter() - started

    print(f"rows: {rows:,} ad-days; converting the API answers to rows: {convert_seconds:.1f} s "
          f"({rows / convert_seconds:,.0f} rows/s)")  # fmt: skip
    for label, seconds in raw.items():
        print(f"raw COPY into an empty {label}: {seconds:.1f} s = {rows / seconds:,.0f} rows/s")
    # The baseline of the issue: raw COPY of the same rows into a table like the target (same keys and indexes,
    # logged), so the ratio is what the load strategy costs; the index-free tables show the floor for reference.
    for label, seconds in timings:
        print(
            f"load_ad_days, {label}: {seconds:.1f} s = {rows / seconds:,.0f} rows/s = "
            f"{100 * raw[SAME_TABLE] / seconds:.0f} % of raw COPY into the {SAME_TABLE} "
            f"({100 * raw['unlogged table without indexes'] / seconds:.0f} % of the unlogged one)"
        )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench pinterest_spend")
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args(argv)
    today = dt.datetime.now(dt.UTC).date()  # the sandbox's day is the hook's (wall-clock) day
    server_url = os.environ.get("PIN2DEAL_WAREHOUSE_URL")
    if not server_url:
        raise SystemExit("set PIN2DEAL_WAREHOUSE_URL (make bench does)")
    url = fresh_database(server_url)
    try:
        measure_requests(args.campaigns, args.days, today)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE raw.pinterest_ad_daily")
        measure_load(args.campaigns, args.days, today, url)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
