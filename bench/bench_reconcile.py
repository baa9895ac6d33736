"""The reconcile at scale: 1,000,000 deals, 500 campaigns x 20 ad groups x 10 ads (100,000 ads), 365 days of spend.

The raw tables are filled straight in SQL (``generate_series``; the benchmark measures the reconcile, not the APIs)
in a fresh warehouse database:

- **Spend**: ads deliver in flights, as real accounts do: each campaign runs 60 days (start spread over the year),
  each of its ad groups 45 days inside that flight, and each ad delivers on about 70 % of its ad group's days, so
  about 3.1 million ad-day rows; on any given day some 3-4 % of the ads deliver.
- **Deals**: 1,000,000 created over the 365 days: 35 % Pinterest paid (half carrying the campaign/ad group/ad id
  macros, a fifth the campaign id in utm_campaign, a fifth a case/space/-/_ variant of the campaign's name, a tenth
  an unresolvable name; each from an ad group in flight on the deal's creation day, as a click comes from an ad
  that delivered), 10 % Pinterest organic, the rest Google, Facebook and organic search; every deal enters the
  qualified stage when created (the stage funnel's entries), 25 % won 1-60 days after creation (advancing from
  it to the closed-won stage, later in the pipeline's order), a fifth in EUR; 0.5 % merged into another deal, 1 %
  archived; 70 % with a contact. Stable keys are namespaced (``hubspot:<id>``). First touch: on 10 % of the deals
  (the Pinterest ones and half of the others among them) an earlier touch (a Pin of another campaign, by name);
  another 10 % repeat their last touch in their first-touch properties.

Then, timing every step as ``attribution_reconcile`` runs it (the same SQL files, rendered and split the same way,
the checks included):

1. a **full rebuild** (the first run);
2. an **incremental** run after 1 % of the deals changed (10,000 deals: half won now, half re-amounted) and one new
   spend day arrived (plus the two days before it restated, as Pinterest's 48-hour restatements make the spend DAG
   re-pull them).

Beside each, a **baseline** measured in the same run, on the same database: what the machine takes to move the data
the run moves, in plain SQL. It reads every raw input once with the joins that place each row (``INSERT ... SELECT``
of the deal rows: the deal, its key, its contacts, its campaign and ad by the id macros; the ad-days with their ads)
and writes every mart row once with the marts' unique indexes, into tables of its own (``BASELINE_FULL_SQL``: no
rule, no sum; the rows other than the deals' are copied from the marts the run published). For the incremental run,
the deals loaded since the last run and the ad-days of the recomputed periods, and the rows the run rewrote
(``BASELINE_INCREMENTAL_SQL``). The ratio of the reconcile's time to its baseline's is what another machine can be
compared by: the baseline moves with the machine, the ratio with the code.

It prints both times, their baselines and ratios, the slowest statements and the ``EXPLAIN (ANALYZE, BUFFERS)`` of
the full rebuild's slowest one (run again inside a rolled-back transaction).

``python -m bench reconcile [--deals=1000000] [--campaigns=500] [--days=365]``
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from collections.abc import Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import jinja2
import psycopg
from airflow.providers.common.sql.hooks.sql import DbApiHook
from psycopg import sql

from pin2deal.hooks.warehouse import apply_migrations
from pin2deal.paths import SQL_DIR
from pin2deal.reconcile.generations import drop_unread_generations
from pin2deal.reconcile.plan import RULE_FILES, finish_reconcile, plan_reconcile
from pin2deal.reconcile.steps import split_statements

HOME_CURRENCY = "USD"
COHORT_WINDOW_DAYS = 60  # the DAG's default cohort window
PARAMS = {"max_unresolved_paid_share": 0.25}  # the DAG's default
WARNING_CHECKS = ("spend_on_unlisted_campaigns", "won_without_won_time", "bad_amounts", "non_iso_currencies")
# The DAG's tasks, in order: (task, template, kind). kind: "file" (run whole, no parameters, as
# SQLExecuteQueryOperator without them), "step" (split, with the run's parameters, one transaction), "check" (a
# blocking SQLCheckOperator: its one row must be all true), "warning" (SQLWarningCheckOperator: rows counted), "plan"
# and "finish" (the operators' Python). A tuple of chains runs its chains at the same time, as the DAG runs the
# warning checks. A dict is the DAG's graph between plan_reconcile and publish_marts: each task starts as soon as
# the tasks it follows have finished (check_duplicate_stable_keys, reconcile_deals and reconcile_spend at once;
# rebuild_funnel after reconcile_deals; rebuild_performance after both).
Step = tuple[str, str | None, str]
Chain = tuple[Step, ...]
Graph = dict[str, tuple[tuple[str, ...], Step]]
STEPS: list[Step | tuple[Chain, ...] | Graph] = [
    *((f"define_rules/{name}", f"reconcile/{name}", "file") for name in RULE_FILES),
    ("remember_entity_names", "reconcile/entity_names.sql", "file"),
    ("plan_reconcile", None, "plan"),
    {
        "check_duplicate_stable_keys": (
            (),
            ("check_duplicate_stable_keys", "checks/duplicate_stable_keys.sql", "check"),
        ),
        "reconcile_deals": ((), ("reconcile_deals", "reconcile/deal_attribution.sql", "step")),
        "reconcile_spend": ((), ("reconcile_spend", "reconcile/spend.sql", "step")),
        "rebuild_funnel": (("reconcile_deals",), ("rebuild_funnel", "reconcile/rebuild_funnel.sql", "step")),
        "rebuild_performance": (
            ("reconcile_deals", "reconcile_spend"),
            ("rebuild_performance", "reconcile/rebuild_performance.sql", "step"),
        ),
    },
    ("publish_marts", "reconcile/publish_marts.sql", "step"),
    tuple(((name, f"checks/{name}.sql", "warning"),) for name in WARNING_CHECKS),
    ("finish_reconcile", None, "finish"),
]


def _steps(entry: Step | tuple[Chain, ...] | Graph) -> list[Step]:
    if isinstance(entry, dict):
        return [step for _, step in entry.values()]
    return [step for chain in entry for step in chain] if isinstance(entry[0], tuple) else [entry]


TASKS = {step[0]: step for entry in STEPS for step in _steps(entry)}

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

INSERT INTO raw.hubspot_pipeline_stages (
    pipeline_id, stage_id, label, display_order, is_closed, probability, is_closed_won
)
VALUES ('default', 'qualified', 'Qualified', 0, false, 0.4, false),
       ('default', 'closedwon', 'Closed won', 1, true, 1, true),
       ('default', 'closedlost', 'Closed lost', 2, true, 0, false);

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
       jsonb_build_object('qualified', to_char(d.created AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'))
       || CASE WHEN d.won IS NOT NULL THEN jsonb_build_object('closedwon', to_char(d.won AT TIME ZONE 'UTC',
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

-- The first touch (docs/attribution.md): a fifth of the Pinterest deals opened their journey on the next campaign
-- (by name), a tenth of the others with an organic Pin; another tenth of all repeat their last touch.
UPDATE raw.hubspot_deals
SET first_touch_utm_source = 'pinterest',
    first_touch_utm_campaign = 'campaign ' || (((deal_id / 7) %% %(campaigns)s) + 1)
WHERE deal_id %% 10 = 1 AND (epik IS NOT NULL OR deal_id %% 20 = 1);
UPDATE raw.hubspot_deals
SET first_touch_epik = epik, first_touch_epik_raw = epik_raw, first_touch_utm_source = utm_source,
    first_touch_utm_campaign = utm_campaign, first_touch_utm_content = utm_content
WHERE deal_id %% 10 = 2;

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
    stage_entered_at = stage_entered_at || jsonb_build_object(
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


# The baseline: what this machine takes to move the data a run moves, in plain SQL. It reads every raw input the run
# reads once, with the joins that place each row (a deal's key, contacts, campaign and ad by the id macros; an
# ad-day's ad), and writes every mart row the run wrote once, with the marts' unique indexes, into tables of its own.
# No rule and no sum: the deal rows are the plain join, the other rows are copied from the marts the run published
# (they are the rows to write; computing them is the reconcile's work, measured against this).
BASELINE_DEAL_ROWS = """
INSERT INTO baseline.deal_attribution (
    stable_key, deal_id, channel, channel_name, epik, ad_account_id, campaign_id, ad_group_id, ad_id,
    campaign_resolved_by, ad_group_resolved_by, ad_resolved_by, pipeline, dealstage, is_won, lead_at, lead_day,
    won_at, won_day, time_to_close, amount, currency, amount_home, home_currency, source_modified_at,
    report_account_id, utm_source, utm_campaign, utm_content, contact_count, lineage_deal_count, reconciled_at
)
SELECT ids.stable_key, deal.deal_id, kind.channel,
       CASE WHEN kind.channel IN ('pinterest_paid', 'pinterest_organic') THEN 'pinterest' ELSE deal.utm_source END,
       deal.epik, campaign.ad_account_id, campaign.campaign_id, ad.ad_group_id, ad.ad_id,
       CASE WHEN campaign.campaign_id IS NULL THEN 'unresolved' ELSE 'macro_id' END,
       CASE WHEN ad.ad_id IS NULL THEN 'unresolved' ELSE 'macro_id' END,
       CASE WHEN ad.ad_id IS NULL THEN 'unresolved' ELSE 'macro_id' END,
       deal.pipeline, deal.dealstage, COALESCE(deal.hs_is_closed_won, false), deal.created_at,
       (deal.created_at AT TIME ZONE account.timezone)::date, deal.closed_at,
       (deal.closed_at AT TIME ZONE account.timezone)::date, deal.closed_at - deal.created_at, deal.amount,
       deal.currency, deal.amount_in_home_currency, %(home_currency)s, deal.loaded_at, account.ad_account_id,
       deal.utm_source, deal.utm_campaign, deal.utm_content, COALESCE(contacts.count, 0), 1, now()
FROM raw.hubspot_deals AS deal
JOIN raw.hubspot_deal_ids AS ids ON ids.deal_id = deal.deal_id AND ids.via = 'self'
CROSS JOIN raw.pinterest_ad_accounts AS account
CROSS JOIN LATERAL (
    SELECT CASE WHEN deal.epik IS NOT NULL THEN 'pinterest_paid' WHEN deal.utm_source = 'pinterest'
                THEN 'pinterest_organic' WHEN deal.utm_source IS NOT NULL THEN 'other' ELSE 'unknown' END AS channel
) AS kind
LEFT JOIN raw.pinterest_campaigns AS campaign ON campaign.campaign_id = deal.pinterest_campaign_id
LEFT JOIN raw.pinterest_ads AS ad ON ad.ad_id = deal.pinterest_ad_id
LEFT JOIN (
    SELECT deal_id, count(*)::integer AS count FROM raw.hubspot_deal_contacts {changed_links} GROUP BY deal_id
) AS contacts ON contacts.deal_id = deal.deal_id
WHERE NOT deal.archived AND deal.merged_into_deal_id IS NULL AND deal.deleted_at IS NULL {changed_deals};
"""
BASELINE_MARTS = ("cohort_cac", "truth_vs_platform", "channel_performance")
BASELINE_FULL_SQL = (
    """
SET LOCAL maintenance_work_mem = '1GB';
DROP SCHEMA IF EXISTS baseline CASCADE;
CREATE SCHEMA baseline;
CREATE TABLE baseline.deal_attribution AS SELECT * FROM mart.deal_attribution WITH NO DATA;
"""
    + BASELINE_DEAL_ROWS.format(changed_links="", changed_deals="")
    + """
CREATE UNIQUE INDEX ON baseline.deal_attribution (stable_key);
CREATE UNIQUE INDEX ON baseline.deal_attribution (deal_id);
CREATE INDEX ON baseline.deal_attribution (source_modified_at);
SELECT count(*), sum(daily.spend), max(ad.name) FROM raw.pinterest_ad_daily AS daily
JOIN raw.pinterest_ads AS ad ON ad.ad_id = daily.ad_id;
"""
    + "".join(f"CREATE TABLE baseline.{mart} AS SELECT * FROM mart.{mart};\n" for mart in BASELINE_MARTS)
    + """
-- mart.performance's rows as stored (every last-touch row, the first touch where it differs), not the view's
-- synthesised first touch: each row once.
CREATE TABLE baseline.performance AS
SELECT * FROM mart.performance_generations WHERE generation = (SELECT mart.generation());
ALTER TABLE baseline.performance DROP COLUMN generation;
CREATE UNIQUE INDEX ON baseline.performance (grain, grain_id, period, period_start, model);
CREATE INDEX ON baseline.performance (period_start) WHERE ad_days > 0;
CREATE UNIQUE INDEX ON baseline.cohort_cac (grain, grain_id, cohort_month, model);
CREATE UNIQUE INDEX ON baseline.truth_vs_platform (grain, grain_id, week_start);
CREATE UNIQUE INDEX ON baseline.channel_performance (channel_name, period, period_start, model);
"""
)
# Which rows the incremental run rewrote (untimed: mart.performance rows carry the time of the transaction that wrote
# them; the cohort and truth-vs-platform rows are its months and weeks). Its keys' last-touch rows: the first touch is
# stored only where it differs (docs/data-model.md), so a key written once is the baseline's unit.
BASELINE_TOUCHED_SQL = """
CREATE TABLE baseline.touched AS
SELECT model, grain, grain_id, period, period_start FROM mart.performance
WHERE model = 'last_touch'
  AND reconciled_at = (SELECT published_at FROM ops.reconcile_runs WHERE run_id = %(run_id)s);
"""
# The incremental baseline: the deals loaded since the last run read again with their joins and their rows
# replaced; the ad-days of the periods whose spend the run recomputed read again; the mart rows the run rewrote
# written again (%(since)s: the run's).
BASELINE_INCREMENTAL_SQL = (
    """
CREATE TEMP TABLE baseline_changed ON COMMIT DROP AS
SELECT deal_id FROM raw.hubspot_deals WHERE loaded_at >= %(since)s;
DELETE FROM baseline.deal_attribution WHERE deal_id IN (SELECT deal_id FROM baseline_changed);
"""
    + BASELINE_DEAL_ROWS.format(
        changed_links="WHERE deal_id IN (SELECT deal_id FROM baseline_changed)",
        changed_deals="AND deal.deal_id IN (SELECT deal_id FROM baseline_changed)",
    )
    + """
SELECT count(*), sum(daily.spend), max(ad.name) FROM raw.pinterest_ad_daily AS daily
JOIN raw.pinterest_ads AS ad ON ad.ad_id = daily.ad_id
WHERE daily.date >= (SELECT min(period_start) FROM mart.performance_spend_periods)
  AND daily.date < (SELECT max(period_end) FROM mart.performance_spend_periods);
DELETE FROM baseline.performance AS old USING baseline.touched AS touched
WHERE (old.model, old.grain, old.grain_id, old.period, old.period_start)
    = (touched.model, touched.grain, touched.grain_id, touched.period, touched.period_start);
INSERT INTO baseline.performance SELECT performance.* FROM mart.performance
JOIN baseline.touched USING (model, grain, grain_id, period, period_start)
WHERE performance.model = 'last_touch';
DELETE FROM baseline.cohort_cac AS old USING baseline.touched AS touched
WHERE touched.period = 'month' AND (old.model, old.grain, old.grain_id, old.cohort_month)
    = (touched.model, touched.grain, touched.grain_id, touched.period_start);
INSERT INTO baseline.cohort_cac SELECT cohort.* FROM mart.cohort_cac AS cohort
JOIN baseline.touched AS touched
  ON touched.period = 'month' AND (cohort.model, cohort.grain, cohort.grain_id, cohort.cohort_month)
    = (touched.model, touched.grain, touched.grain_id, touched.period_start);
DELETE FROM baseline.truth_vs_platform AS old USING baseline.touched AS touched
WHERE touched.model = 'last_touch' AND touched.period = 'week' AND (old.grain, old.grain_id, old.week_start)
    = (touched.grain, touched.grain_id, touched.period_start);
INSERT INTO baseline.truth_vs_platform SELECT truth.* FROM mart.truth_vs_platform AS truth
JOIN baseline.touched AS touched
  ON touched.model = 'last_touch' AND touched.period = 'week' AND (truth.grain, truth.grain_id, truth.week_start)
    = (touched.grain, touched.grain_id, touched.period_start);
"""
)


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
    return environment.get_template(template).render(ti=_TaskInstance(plan), params=PARAMS)


def statements(template: str, plan: dict[str, Any]) -> list[str]:
    """The statements a reconcile step runs for a templated SQL file (Jinja from ``include/sql``, then split as
    ``ReconcileStepOperator`` splits it)."""
    return split_statements(render(template, plan))


class Run:
    """One reconcile run as the DAG runs it: every task's time, and every statement's."""

    def __init__(self, url: str, run_id: str, *, full: bool) -> None:
        self.url, self.run_id, self.full = url, run_id, full
        self.parameters = {"run_id": run_id, "home_currency": HOME_CURRENCY, "cohort_window_days": COHORT_WINDOW_DAYS}
        self.plan: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.slow: list[tuple[float, str, str]] = []
        self.findings: dict[str, int] = {}

    def task(self, step: Step) -> None:
        """One task as its operator runs it: one connection, one transaction."""
        task, template, kind = step
        started = time.perf_counter()
        with psycopg.connect(self.url) as conn:
            if kind == "plan":
                conn.autocommit = True
                drop_unread_generations(conn)
                conn.autocommit = False
                self.plan = plan_reconcile(conn, self.run_id, full_rebuild=self.full, home_currency=HOME_CURRENCY)
            elif kind == "finish":
                finish_reconcile(conn, self.run_id, [])
                conn.commit()
                conn.autocommit = True
                drop_unread_generations(conn)
            elif kind == "file":  # the operator runs the whole file as one multi-statement string
                conn.execute(render(template, self.plan))
            elif kind in ("check", "warning"):
                rows = conn.execute(render(template, self.plan), self.parameters).fetchall()
                if kind == "check":
                    assert rows and all(rows[0]), f"{task} failed: {rows[0]}"
                else:
                    self.findings[task] = len(rows)
            else:
                for statement in statements(template, self.plan):
                    began = time.perf_counter()
                    conn.execute(statement, self.parameters)
                    self.slow.append((time.perf_counter() - began, task, statement))
        self.timings[task] = time.perf_counter() - started

    def chain(self, chain: Chain) -> None:
        for step in chain:
            self.task(step)

    def graph(self, graph: Graph) -> None:
        """Each task as soon as the tasks it follows have finished (they come first in ``graph``)."""
        futures: dict[str, Future] = {}

        def after(upstream: tuple[str, ...], step: Step) -> None:
            for task in upstream:
                futures[task].result()
            self.task(step)

        with ThreadPoolExecutor(len(graph)) as pool:
            for task, (upstream, step) in graph.items():
                futures[task] = pool.submit(after, upstream, step)
            for future in futures.values():
                future.result()

    def run(self) -> float:
        started = time.perf_counter()
        for entry in STEPS:
            if isinstance(entry, dict):
                self.graph(entry)
            elif isinstance(entry[0], tuple):  # tasks the DAG runs at the same time
                with ThreadPoolExecutor(len(entry)) as pool:
                    for future in [pool.submit(self.chain, chain) for chain in entry]:
                        future.result()
            else:
                self.task(entry)
        self.slow.sort(reverse=True)
        return time.perf_counter() - started


def baseline(url: str, text: str, parameters: dict[str, Any]) -> float:
    """The baseline's statements in one transaction; its time."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        for statement in split_statements(text):
            conn.execute(statement, {"home_currency": HOME_CURRENCY, **parameters})
    return time.perf_counter() - started


def explain(url: str, run_id: str, task: str, statement: str, plan: dict[str, Any]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one statement of a full rebuild, after the statements before it, rolled back."""
    parameters = {"run_id": run_id, "home_currency": HOME_CURRENCY, "cohort_window_days": COHORT_WINDOW_DAYS}
    if task not in ("reconcile_deals", "reconcile_spend"):  # it reads the deal rows and the spend staged for its run
        for earlier in ("reconcile_deals", "reconcile_spend"):
            with psycopg.connect(url) as conn:
                for before in statements(TASKS[earlier][1], plan):
                    conn.execute(before, parameters)
    with psycopg.connect(url) as conn:
        for before in statements(TASKS[task][1], plan):
            if before == statement:
                rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).fetchall()
                conn.rollback()
                return "\n".join(row[0] for row in rows)
            conn.execute(before, parameters)
    raise AssertionError("statement not found")


def report(name: str, run: Run, seconds: float, baseline_seconds: float, target: float) -> None:
    rules = sum(value for task, value in run.timings.items() if task.startswith("define_rules/"))
    steps = ", ".join(f"{task} {value:.2f}" for task, value in run.timings.items() if "/" not in task)
    print(
        f"{name}: {seconds:.2f} s (target < {target:.0f} s), baseline {baseline_seconds:.2f} s, "
        f"ratio {seconds / baseline_seconds:.2f}x the baseline\n  define_rules {rules:.2f}, {steps}",
        flush=True,
    )


def slowest(title: str, slow: Sequence[tuple[float, str, str]]) -> None:
    print(title)
    for seconds, task, statement in slow[:6]:
        print(f"  {seconds:6.2f} s  {task}: {' '.join(statement.split())[:150]}")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench reconcile")
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    server_url = os.environ["PIN2DEAL_WAREHOUSE_URL"]
    first_day = "2024-07-01"
    print(f"load average at the start: {load_average()}", flush=True)
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

        full_run = Run(url, "bench_full", full=True)
        full = full_run.run()
        print(f"load average after the full rebuild: {load_average()}", flush=True)
        full_baseline = baseline(url, BASELINE_FULL_SQL, {})
        report("full rebuild", full_run, full, full_baseline, 60)

        with psycopg.connect(url) as conn:
            for statement in DbApiHook.split_sql_string(CHANGE_SQL):
                conn.execute(statement, {"half": deals // 200, "last_day": last_day})
            conn.commit()
            conn.autocommit = True
            conn.execute("ANALYZE raw.hubspot_deals, raw.pinterest_ad_daily")
        incremental_run = Run(url, "bench_incremental", full=False)
        incremental = incremental_run.run()
        with psycopg.connect(url) as conn:
            mode, changed, since = conn.execute(
                "SELECT mode, deals_changed, since FROM ops.reconcile_runs WHERE run_id = 'bench_incremental'"
            ).fetchone()
        with psycopg.connect(url) as conn:
            conn.execute(BASELINE_TOUCHED_SQL, {"run_id": "bench_incremental"})
        incremental_baseline = baseline(url, BASELINE_INCREMENTAL_SQL, {"since": since})
        name = f"incremental ({mode}, {changed:,} deals changed)"
        report(name, incremental_run, incremental, incremental_baseline, 5)
        print(f"ratio full / incremental: {full / incremental:.1f}x; warnings found: {incremental_run.findings}")
        print(f"load average at the end: {load_average()}", flush=True)
        slowest("slowest statements of the incremental run:", incremental_run.slow)
        slowest("slowest statements of the full rebuild:", full_run.slow)
        seconds, task, statement = full_run.slow[0]
        print(f"\nslowest statement of the full rebuild ({task}, {seconds:.1f} s):\n{statement}\n", flush=True)
        with psycopg.connect(url) as conn:
            plan = plan_reconcile(conn, "bench_explain", full_rebuild=True, home_currency=HOME_CURRENCY)
            conn.commit()
        print(explain(url, "bench_explain", task, statement, plan))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
