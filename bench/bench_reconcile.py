"""The reconcile at scale: 1,000,000 deals, 500 campaigns x 20 ad groups x 10 ads (100,000 ads), 365 days of spend.

The raw tables are filled straight in SQL (``generate_series``; the benchmark measures the reconcile, not the APIs)
in a fresh warehouse database:

- **Spend**: ads deliver in flights, as real accounts do: each campaign runs 60 days (start spread over the year),
  each of its ad groups 45 days inside that flight, and each ad delivers on about 70 % of its ad group's days, so
  about 3.1 million ad-day rows; on any given day some 3-4 % of the ads deliver.
- **Deals**: 1,000,000 created over the 365 days: 35 % Pinterest paid (half carrying the campaign/ad group/ad id
  macros, a fifth the campaign id in utm_campaign, a fifth a case/space/-/_ variant of the campaign's name, a tenth
  an unresolvable name; each from an ad group in flight on the deal's creation day, as a click comes from an ad
  that delivered), 10 % Pinterest organic, the rest Google, Facebook and organic search; 25 % won 1-60 days
  after creation, a fifth in EUR; 0.5 % merged into another deal, 1 % archived; 70 % with a contact. Stable keys are
  namespaced (``hubspot:<id>``).

Then, timing every step as ``attribution_reconcile`` runs it (the same SQL files, rendered and split the same way):

1. a **full rebuild** (the first run);
2. an **incremental** run after 1 % of the deals changed (10,000 deals: half won now, half re-amounted) and one new
   spend day arrived (plus the two days before it restated, as Pinterest's 48-hour restatements make the spend DAG
   re-pull them).

It prints both times and their ratio, the slowest statement of the full rebuild, and its ``EXPLAIN (ANALYZE,
BUFFERS)`` (run again inside a rolled-back transaction).

``python -m bench reconcile [--deals=1000000] [--campaigns=500] [--days=365]``
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import jinja2
import psycopg
from airflow.providers.common.sql.hooks.sql import DbApiHook
from psycopg import sql

from pin2deal.hooks.warehouse import apply_migrations
from pin2deal.paths import SQL_DIR
from pin2deal.reconcile.plan import RULE_FILES, finish_reconcile, plan_reconcile

HOME_CURRENCY = "USD"
# The DAG's SQL steps, in order: (task, template, parameters?); a tuple of steps runs at the same time, as the DAG
# runs reconcile_deals and reconcile_spend (both follow plan_reconcile; reconcile_performance needs both).
Step = tuple[str, str | None, bool]
STEPS: list[Step | tuple[Step, ...]] = [
    *((f"define_rules/{name}", f"reconcile/{name}", False) for name in RULE_FILES),
    ("remember_entity_names", "reconcile/entity_names.sql", False),
    ("plan_reconcile", None, False),
    (("reconcile_deals", "reconcile/deal_attribution.sql", True), ("reconcile_spend", "reconcile/spend.sql", True)),
    ("reconcile_performance", "reconcile/performance_step.sql", True),
    ("reconcile_channels", "reconcile/channel_performance.sql", True),
]
TASKS = {step[0]: step for entry in STEPS for step in (entry if isinstance(entry[0], tuple) else (entry,))}

FILL_SQL = """
SET LOCAL work_mem = '256MB';
INSERT INTO raw.pinterest_ad_accounts (ad_account_id, name, currency, timezone, raw)
VALUES ('549755885175', 'Bench', 'USD', 'America/New_York', '{}');

INSERT INTO raw.pinterest_campaigns (campaign_id, ad_account_id, name, status, raw)
SELECT (626735000000 + c)::text, '549755885175', 'Campaign ' || c || ' Spring Sofas',
       CASE WHEN c %% 5 = 0 THEN 'ARCHIVED' ELSE 'ACTIVE' END, '{}'
FROM generate_series(0, %(campaigns)s - 1) AS c;

INSERT INTO raw.pinterest_ad_groups (ad_group_id, ad_account_id, campaign_id, name, status, raw)
SELECT (268006000000 + c * 20 + g)::text, '549755885175', (626735000000 + c)::text, 'Group ' || g, 'ACTIVE', '{}'
FROM generate_series(0, %(campaigns)s - 1) AS c, generate_series(0, 19) AS g;

INSERT INTO raw.pinterest_ads (ad_id, ad_account_id, campaign_id, ad_group_id, pin_id, name, status, raw)
SELECT (687195000000 + (c * 20 + g) * 10 + a)::text, '549755885175', (626735000000 + c)::text,
       (268006000000 + c * 20 + g)::text, (900000000000 + (c * 20 + g) * 10 + a)::text, 'Pin ' || a, 'ACTIVE', '{}'
FROM generate_series(0, %(campaigns)s - 1) AS c, generate_series(0, 19) AS g, generate_series(0, 9) AS a;

-- Flights: campaign c starts on day (c * 37) %% (days - 60) and runs 60 days; ad group g starts (g %% 16) days in
-- and runs 45; an ad delivers on ~70 %% of those days.
INSERT INTO raw.pinterest_ad_daily (ad_id, date, ad_account_id, ad_group_id, campaign_id, spend_micro, spend, currency,
    impressions, clicks, checkouts, click_checkouts, view_checkouts, provisional, metrics)
SELECT ad.ad_id, %(first_day)s::date + day::integer, '549755885175', ad.ad_group_id, ad.campaign_id, micro,
       micro / 1e6, 'USD',
       1000 + (h %% 5000), 10 + (h %% 90), h %% 3, h %% 2, (h %% 3) - LEAST(h %% 3, h %% 2), false, '{}'
FROM (
    SELECT ad_id, ad_group_id, campaign_id, c, g
    FROM raw.pinterest_ads,
         LATERAL (SELECT campaign_id::bigint - 626735000000 AS c, ad_group_id::bigint - 268006000000 AS g) AS n
) AS ad
CROSS JOIN LATERAL generate_series(
    (ad.c * 37) %% (%(days)s - 60) + (ad.g %% 20) %% 16, (ad.c * 37) %% (%(days)s - 60) + (ad.g %% 20) %% 16 + 44
) AS day
CROSS JOIN LATERAL (SELECT abs(hashtext(ad.ad_id || ':' || day)) AS h) AS hashed
CROSS JOIN LATERAL (SELECT 5000000 + (hashed.h %% 295000000)::bigint AS micro) AS spend
WHERE hashed.h %% 10 < 7 AND day < %(days)s;

INSERT INTO raw.hubspot_pipeline_stages (pipeline_id, stage_id, label, is_closed, probability, is_closed_won)
VALUES ('default', 'qualified', 'Qualified', false, 0.4, false),
       ('default', 'closedwon', 'Closed won', true, 1, true),
       ('default', 'closedlost', 'Closed lost', true, 0, false);

-- A Pinterest deal comes from an ad group in flight on the day it was created (its ad delivered then or nearby).
CREATE TEMP TABLE bench_flights ON COMMIT DROP AS
SELECT day, array_agg(c * 20 + g ORDER BY c, g) AS ad_groups
FROM generate_series(0, %(campaigns)s - 1) AS c, generate_series(0, 19) AS g,
     LATERAL generate_series((c * 37) %% (%(days)s - 60) + g %% 16, (c * 37) %% (%(days)s - 60) + g %% 16 + 44) AS day
WHERE day < %(days)s
GROUP BY day;

INSERT INTO raw.hubspot_deals (deal_id, properties, amount, amount_raw, currency, amount_in_home_currency,
    created_at, closed_at, modified_at, pipeline, dealstage, hs_is_closed_won, stage_entered_at, epik, epik_raw,
    utm_source, utm_campaign, utm_content, pinterest_campaign_id, pinterest_ad_group_id, pinterest_ad_id,
    analytics_source, archived)
SELECT d.id, '{}', d.amount, d.amount::text, d.currency,
       CASE WHEN d.currency = 'EUR' THEN round(d.amount * 1.1, 2) ELSE d.amount END,
       d.created, d.won, d.created + interval '1 day', 'default',
       CASE WHEN d.won IS NOT NULL THEN 'closedwon' ELSE 'qualified' END, d.won IS NOT NULL,
       CASE WHEN d.won IS NOT NULL THEN jsonb_build_object('closedwon', to_char(d.won AT TIME ZONE 'UTC',
           'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')) ELSE '{}' END,
       CASE WHEN d.kind < 35 THEN 'epik.' || d.id END, CASE WHEN d.kind < 35 THEN 'epik.' || d.id END,
       CASE WHEN d.kind < 45 THEN 'pinterest' WHEN d.kind < 65 THEN 'google' WHEN d.kind < 80 THEN 'facebook' END,
       CASE WHEN d.kind < 35 THEN
                CASE WHEN d.how < 50 THEN 'campaign ' || d.c
                     WHEN d.how < 70 THEN (626735000000 + d.c)::text
                     WHEN d.how < 90 THEN upper('Campaign_' || d.c || '-spring  sofas')
                     ELSE 'unknown campaign ' || d.id END
            WHEN d.kind < 65 THEN 'brand_search' END,
       CASE WHEN d.kind < 35 AND d.how >= 50 AND d.how < 70 THEN (687195000000 + d.ad)::text END,
       CASE WHEN d.kind < 35 AND d.how < 50 THEN (626735000000 + d.c)::text END,
       CASE WHEN d.kind < 35 AND d.how < 50 THEN (268006000000 + d.ad / 10)::text END,
       CASE WHEN d.kind < 35 AND d.how < 50 THEN (687195000000 + d.ad)::text END,
       CASE WHEN d.kind >= 80 THEN 'ORGANIC_SEARCH' ELSE 'PAID_SOCIAL' END,
       d.id %% 100 = 7
FROM (
    SELECT id, h %% 100 AS kind, (h / 100) %% 100 AS how, ad_group / 20 AS c, ad_group * 10 + (h / 7) %% 10 AS ad,
           100 + (h %% 4900) AS amount, CASE WHEN h %% 5 = 0 THEN 'EUR' ELSE 'USD' END AS currency,
           created,
           CASE WHEN (h / 3) %% 4 = 0 THEN created + make_interval(days => (1 + (h / 11) %% 60)::integer) END AS won
    FROM (
        SELECT id, h, created,
               COALESCE(flight.ad_groups[1 + (h / 10000) %% cardinality(flight.ad_groups)],
                        ((h / 10000) %% %(campaigns)s) * 20 + (h / 7) %% 20) AS ad_group
        FROM (
            SELECT id, abs(hashtext('deal' || id))::bigint AS h,
                   %(first_day)s::timestamptz
                   + make_interval(secs => (id - 1) * (%(days)s * 86400.0 / %(deals)s)) AS created,
                   ((id - 1) * %(days)s / %(deals)s)::integer AS day
            FROM generate_series(1, %(deals)s) AS id
        ) AS base
        LEFT JOIN bench_flights AS flight USING (day)
    ) AS deal
) AS d;

-- 0.5 %% merged into the next deal, with their own self key; the survivor lists them.
UPDATE raw.hubspot_deals SET merged_into_deal_id = deal_id + 1 WHERE deal_id %% 200 = 3;
UPDATE raw.hubspot_deals SET merged_object_ids = ARRAY[deal_id - 1] WHERE deal_id %% 200 = 4;

INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id)
SELECT 'hubspot:' || deal_id, 'hubspot:' || deal_id, 'self', deal_id FROM raw.hubspot_deals;

INSERT INTO raw.hubspot_deal_contacts (deal_id, contact_id)
SELECT deal_id, 5000000 + deal_id FROM raw.hubspot_deals WHERE deal_id %% 10 < 7;
"""

CHANGE_SQL = """
-- 1 %% of the deals change: half of them are won now, the other half get a new amount.
UPDATE raw.hubspot_deals
SET dealstage = 'closedwon', hs_is_closed_won = true, closed_at = now(),
    stage_entered_at = jsonb_build_object(
        'closedwon', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')),
    loaded_at = now()
WHERE deal_id IN (SELECT deal_id FROM raw.hubspot_deals WHERE deal_id %% 100 = 11 AND NOT hs_is_closed_won
                  ORDER BY deal_id LIMIT %(half)s);
UPDATE raw.hubspot_deals SET amount = amount + 1, amount_in_home_currency = amount_in_home_currency + 1,
    loaded_at = now()
WHERE deal_id IN (SELECT deal_id FROM raw.hubspot_deals WHERE deal_id %% 100 = 13 ORDER BY deal_id LIMIT %(half)s);

-- One new spend day (every ad in flight then) and the two days before it restated.
INSERT INTO raw.pinterest_ad_daily (ad_id, date, ad_account_id, ad_group_id, campaign_id, spend_micro, spend, currency,
    impressions, clicks, checkouts, click_checkouts, view_checkouts, provisional, metrics)
SELECT ad_id, date + 1, ad_account_id, ad_group_id, campaign_id, spend_micro, spend, currency, impressions, clicks,
       checkouts, click_checkouts, view_checkouts, true, '{}'
FROM raw.pinterest_ad_daily WHERE date = %(last_day)s;
UPDATE raw.pinterest_ad_daily SET spend_micro = spend_micro + 1000, spend = spend + 0.001, loaded_at = now()
WHERE date IN (%(last_day)s::date - 1, %(last_day)s::date);
"""


@contextmanager
def fresh_database(server_url: str) -> Generator[str, None, None]:
    name = f"pin2deal_bench_reconcile_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class _TaskInstance:
    """What the SQL templates read from ``ti``: the plan's XCom."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan

    def xcom_pull(self, task_ids: str) -> dict[str, Any]:
        assert task_ids == "plan_reconcile"
        return self.plan


def render(template: str, plan: dict[str, Any]) -> str:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SQL_DIR)))
    return environment.get_template(template).render(ti=_TaskInstance(plan), params={})


def statements(template: str, plan: dict[str, Any]) -> list[str]:
    """The statements Airflow runs for a templated SQL file (Jinja from ``include/sql``, then split as common-sql)."""
    return DbApiHook.split_sql_string(render(template, plan))


def run_task(url: str, run_id: str, step: Step, plan: dict[str, Any], slow: list[tuple[float, str, str]]) -> None:
    """One task's SQL as the operator runs it: one connection, one transaction."""
    task, template, with_parameters = step
    parameters = {"run_id": run_id, "home_currency": HOME_CURRENCY}
    with psycopg.connect(url) as conn:
        if with_parameters:
            for statement in statements(template, plan):
                began = time.perf_counter()
                conn.execute(statement, parameters)
                slow.append((time.perf_counter() - began, task, statement))
        else:  # no parameters: the operator runs the whole file as one multi-statement string
            conn.execute(render(template, plan))


def run(url: str, run_id: str, *, full: bool, timings: dict[str, float], slow: list[tuple[float, str, str]]) -> None:
    plan: dict[str, Any] = {}

    def timed(step: Step) -> None:
        started = time.perf_counter()
        run_task(url, run_id, step, plan, slow)
        timings[step[0]] = time.perf_counter() - started

    for entry in STEPS:
        if isinstance(entry[0], tuple):  # tasks the DAG runs at the same time
            with ThreadPoolExecutor(len(entry)) as pool:
                for future in [pool.submit(timed, step) for step in entry]:
                    future.result()
        elif entry[1] is None:
            started = time.perf_counter()
            with psycopg.connect(url) as conn:
                plan = plan_reconcile(conn, run_id, full_rebuild=full, home_currency=HOME_CURRENCY)
            timings[entry[0]] = time.perf_counter() - started
        else:
            timed(entry)


def reconcile(url: str, run_id: str, *, full: bool) -> tuple[float, dict[str, float], list[tuple[float, str, str]]]:
    timings: dict[str, float] = {}
    slow: list[tuple[float, str, str]] = []
    started = time.perf_counter()
    run(url, run_id, full=full, timings=timings, slow=slow)
    elapsed = time.perf_counter() - started
    with psycopg.connect(url) as conn:
        finish_reconcile(conn, run_id, [])
    return elapsed, timings, sorted(slow, reverse=True)


def explain(url: str, run_id: str, task: str, statement: str, plan: dict[str, Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement of a full rebuild, after the statements before it, rolled back."""
    template = TASKS[task][1]
    parameters = {"run_id": run_id, "home_currency": HOME_CURRENCY}
    if task == "reconcile_performance":  # it reads the spend reconcile_spend staged for its run
        run_task(url, run_id, TASKS["reconcile_spend"], plan, [])
    with psycopg.connect(url) as conn:
        for before in statements(template, plan):
            if before == statement:
                rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).fetchall()
                conn.rollback()
                return "\n".join(row[0] for row in rows)
            conn.execute(before, parameters)
    raise AssertionError("statement not found")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench reconcile")
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    server_url = os.environ["PIN2DEAL_WAREHOUSE_URL"]
    first_day = "2024-07-01"
    with fresh_database(server_url) as url:
        with psycopg.connect(url) as conn:
            apply_migrations(conn)
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            conn.execute("SET synchronous_commit = off")
            for statement in DbApiHook.split_sql_string(FILL_SQL):
                conn.execute(statement, {**vars(args), "first_day": first_day})
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM raw.hubspot_deals), (SELECT count(*) FROM raw.pinterest_ads), "
                "(SELECT count(*) FROM raw.pinterest_ad_daily), (SELECT max(date) FROM raw.pinterest_ad_daily)"
            ).fetchone()
        deals, ads, ad_days, last_day = counts
        print(f"raw: {deals:,} deals, {ads:,} ads, {ad_days:,} ad-day rows up to {last_day} "
              f"(filled in {time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip

        full, full_steps, full_slow = reconcile(url, "bench_full", full=True)
        print(f"full rebuild: {full:.1f} s  " + ", ".join(f"{k} {v:.1f}" for k, v in full_steps.items()), flush=True)

        with psycopg.connect(url) as conn:
            for statement in DbApiHook.split_sql_string(CHANGE_SQL):
                conn.execute(statement, {"half": deals // 200, "last_day": last_day})
            conn.commit()
            conn.autocommit = True
            conn.execute("ANALYZE raw.hubspot_deals, raw.pinterest_ad_daily")
        incremental, inc_steps, inc_slow = reconcile(url, "bench_incremental", full=False)
        with psycopg.connect(url) as conn:
            mode, changed = conn.execute(
                "SELECT mode, deals_changed FROM ops.reconcile_runs WHERE run_id = 'bench_incremental'"
            ).fetchone()
        print(f"incremental ({mode}, {changed:,} deals changed): {incremental:.2f} s  "
              + ", ".join(f"{k} {v:.2f}" for k, v in inc_steps.items()), flush=True)  # fmt: skip
        print(f"ratio full / incremental: {full / incremental:.1f}x (targets: full < 60 s, incremental < 5 s)")
        print("slowest statements of the incremental run:")
        for seconds, task, statement in inc_slow[:6]:
            print(f"  {seconds:6.2f} s  {task}: {' '.join(statement.split())[:150]}")

        print("slowest statements of the full rebuild:")
        for seconds, task, statement in full_slow[:6]:
            print(f"  {seconds:6.2f} s  {task}: {' '.join(statement.split())[:150]}")
        seconds, task, statement = full_slow[0]
        print(f"\nslowest statement of the full rebuild ({task}, {seconds:.1f} s):\n{statement}\n", flush=True)
        with psycopg.connect(url) as conn:
            plan = plan_reconcile(conn, "bench_explain", full_rebuild=True, home_currency=HOME_CURRENCY)
            conn.commit()
        print(explain(url, "bench_explain", task, statement, plan))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
