"""The forecast CAC against history (issue 23): on a generated world, what the forecast said at day 14 of each
campaign's monthly cohort, against the cohort's actual CAC at day 90.

    make bench BENCH_ARGS="forecast --deals=20000"

The world goes through ``hubspot_deals``, ``pinterest_spend`` and ``attribution_reconcile`` as in the pipeline
benchmark (``bench_pipeline.run_world``). Then, for every (campaign, lead month) whose day 90 the data reaches:

- **the forecast at day D** (D = 14) is what ``mart.cohort_cac`` showed on the morning of the month's day D + 1
  (its first D days): the campaign's spend on those days / (the leads created on them that were won by then + the
  open ones weighted by the probability of the stage they were in then, by the rule functions of
  ``include/sql/reconcile/forecast.sql``). The stage a lineage was in is its latest stage entry before the day
  (``mart.funnel_entries``: every deal of the lineage, the import instants of a CRM migration excluded); a lead with
  no entry yet is in its pipeline's first open stage; a won lead counts from its won day;
- **the actual CAC at day 90**: the month's spend / its leads won within the month's first 90 days (``mart.cac``).

The error of a cohort is forecast / actual - 1; the benchmark prints their median (absolute and signed), the share
within 25 %, and the pooled error (all cohorts' spend over all their wins). It also counts the cohorts whose actual
CAC was known at day 14 (a win in the first 14 days): the CAC the marts had without a forecast.
"""

from __future__ import annotations

import argparse
import statistics
from decimal import Decimal
from typing import Any

import psycopg

from bench.bench_pipeline import run_world

FORECAST_DAY, ACTUAL_DAY = 14, 90
BACKTEST_SQL = """
WITH cohort AS (
    SELECT grain_id AS campaign_id, cohort_month AS month, spend AS month_spend
    FROM mart.cohort_cac
    WHERE model = 'last_touch' AND grain = 'campaign'
      AND cohort_month + %(actual_day)s::integer <= (SELECT max(date) FROM raw.pinterest_ad_daily) + 1
),
lead AS (
    SELECT cohort.campaign_id, cohort.month, cohort.month_spend, deal.stable_key, deal.pipeline, deal.is_won,
           deal.won_day, deal.lead_day
    FROM cohort
    JOIN mart.deal_attribution AS deal
      ON deal.campaign_id = cohort.campaign_id AND deal.channel = 'pinterest_paid'
     AND deal.lead_day >= cohort.month AND deal.lead_day < (cohort.month + interval '1 month')::date
),
state AS (  -- each lead of the first D days as it stood on the morning of day D + 1
    SELECT lead.campaign_id, lead.month, forecast.won,
           mart.deal_is_open(forecast.won, forecast.closed) AS open,
           mart.expected_win(forecast.won, forecast.closed, forecast.probability) AS expected
    FROM lead
    LEFT JOIN LATERAL (
        SELECT entry.stage, entry.stage_kind
        FROM mart.funnel_entries AS entry
        WHERE entry.stable_key = lead.stable_key AND entry.entered_day < lead.month + %(forecast_day)s::integer
        ORDER BY entry.entered_at DESC, entry.stage_order DESC NULLS LAST
        LIMIT 1
    ) AS latest ON true
    LEFT JOIN raw.hubspot_pipeline_stages AS stage
           ON stage.pipeline_id = lead.pipeline AND stage.stage_id = latest.stage
    LEFT JOIN LATERAL (
        SELECT first.probability
        FROM raw.hubspot_pipeline_stages AS first
        WHERE first.pipeline_id = lead.pipeline AND NOT COALESCE(first.is_closed, false)
        ORDER BY first.display_order
        LIMIT 1
    ) AS first_stage ON true
    CROSS JOIN LATERAL (
        SELECT lead.is_won AND lead.won_day < lead.month + %(forecast_day)s::integer AS won,
               COALESCE(latest.stage_kind <> 'open', false) AS closed,
               CASE WHEN latest.stage IS NULL THEN first_stage.probability ELSE stage.probability END AS probability
    ) AS forecast
    WHERE lead.lead_day < lead.month + %(forecast_day)s::integer
),
early AS (
    SELECT campaign_id, month, count(*) FILTER (WHERE won) AS won,
           COALESCE(sum(expected) FILTER (WHERE open), 0) AS expected,
           count(*) FILTER (WHERE open AND expected IS NULL) AS without_probability
    FROM state
    GROUP BY campaign_id, month
),
actual AS (
    SELECT campaign_id, month, month_spend,
           count(*) FILTER (WHERE is_won AND won_day < month + %(actual_day)s::integer) AS won
    FROM lead
    GROUP BY campaign_id, month, month_spend
)
SELECT actual.campaign_id, actual.month, spend.spend AS early_spend, early.won AS early_won,
       early.expected AS early_expected,
       mart.forecast_cac(spend.spend, early.won, early.expected, early.without_probability) AS forecast_cac,
       mart.cac(spend.spend, early.won) AS early_cac,
       actual.month_spend, actual.won AS actual_won, mart.cac(actual.month_spend, actual.won) AS actual_cac
FROM actual
LEFT JOIN early USING (campaign_id, month)
CROSS JOIN LATERAL (
    SELECT COALESCE(sum(day.spend), 0) AS spend
    FROM mart.performance AS day
    WHERE day.model = 'last_touch' AND day.grain = 'campaign' AND day.grain_id = actual.campaign_id
      AND day.period = 'day'
      AND day.period_start >= actual.month AND day.period_start < actual.month + %(forecast_day)s::integer
) AS spend
ORDER BY actual.campaign_id, actual.month
"""


def backtest(url: str, forecast_day: int = FORECAST_DAY, actual_day: int = ACTUAL_DAY) -> dict[str, Any]:
    """Every cohort's forecast at ``forecast_day`` and actual CAC at ``actual_day``, and the error figures."""
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute(BACKTEST_SQL, {"forecast_day": forecast_day, "actual_day": actual_day})
        columns = [column.name for column in cur.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    compared = [row for row in rows if row["forecast_cac"] is not None and row["actual_cac"] is not None]
    errors = [row["forecast_cac"] / row["actual_cac"] - 1 for row in compared]
    pooled_forecast = sum(row["early_spend"] for row in compared) / sum(
        row["early_won"] + row["early_expected"] for row in compared
    ) if compared else None  # fmt: skip
    pooled_actual = sum(row["month_spend"] for row in compared) / sum(row["actual_won"] for row in compared) if (
        compared) else None  # fmt: skip
    return {
        "cohorts": len(rows),
        "compared": len(compared),
        "no_forecast": sum(row["forecast_cac"] is None for row in rows),
        "no_early_spend": sum(row["forecast_cac"] is None and not row["early_spend"] for row in rows),
        "no_early_lead": sum(row["forecast_cac"] is None and row["early_won"] is None for row in rows),
        "no_actual": sum(row["actual_cac"] is None for row in rows),
        "actual_known_early": sum(row["early_cac"] is not None for row in rows),
        "median_abs_error": statistics.median(abs(e) for e in errors) if errors else None,
        "median_error": statistics.median(errors) if errors else None,
        "within_25": sum(abs(e) <= Decimal("0.25") for e in errors) / len(errors) if errors else None,
        "pooled_forecast": pooled_forecast,
        "pooled_actual": pooled_actual,
        "rows": rows,
    }


def report(result: dict[str, Any], forecast_day: int = FORECAST_DAY, actual_day: int = ACTUAL_DAY) -> None:
    def pct(value: Any) -> str:
        return "n/a" if value is None else f"{Decimal(value) * 100:+.1f} %"

    print(f"cohorts (campaign x lead month) whose day {actual_day} the data reaches: {result['cohorts']}")
    print(f"  with a forecast at day {forecast_day} and an actual CAC at day {actual_day}: {result['compared']} "
          f"(no forecast: {result['no_forecast']}, of which {result['no_early_spend']} spent nothing and "
          f"{result['no_early_lead']} had no lead in the first {forecast_day} days; no win by day {actual_day}: "
          f"{result['no_actual']})")  # fmt: skip
    print(f"  with an actual CAC already at day {forecast_day} (a win in the first {forecast_day} days): "
          f"{result['actual_known_early']}")  # fmt: skip
    print(f"forecast at day {forecast_day} vs actual CAC at day {actual_day}, per cohort: median absolute error "
          f"{pct(result['median_abs_error']).lstrip('+')}, median error {pct(result['median_error'])}, within 25 %: "
          f"{pct(result['within_25']).lstrip('+')}")  # fmt: skip
    if result["pooled_actual"]:
        pooled = result["pooled_forecast"] / result["pooled_actual"] - 1
        print(f"pooled over those cohorts: forecast {result['pooled_forecast']:.2f} vs actual "
              f"{result['pooled_actual']:.2f} ({pct(pooled)})")  # fmt: skip


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench forecast")
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    run_world(args.deals, args.seed, None, dags=("hubspot_deals", "pinterest_spend", "attribution_reconcile"),
              then=lambda url: report(backtest(url)))  # fmt: skip
