-- Rule: cohort CAC by lead-creation month = the grain's spend in the month / the Pinterest-paid deals created that
-- month that are won by now (NULL when none is). Runs after performance.sql in its transaction: only the month rows
-- it rewrote are refreshed on an incremental run (and every row, when the run's cohort window differs from theirs).
-- Cohort windows: of those leads, the ones won within 7, 30, 90 and `cohort_window_days` days of their lead day (in
-- account days: won_day - lead_day <= N); a won deal without a won day is won within no window. The counts are kept
-- whole here; the mart.cohort_cac view shows a window's count once the cohort is old enough (migration 080).
-- Forecast (forecast.sql): the month's open leads, their expected wins and revenue, and the forecast CAC beside the
-- actual one, as mart.performance's month row has them. Per touch model, as mart.performance (contributions.sql:
-- the won deals' touches counted once, then per model).
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
{% if not full %}
CREATE TEMP TABLE reconcile_cohorts ON COMMIT DROP AS
SELECT model, grain, grain_id, period_start AS cohort_month FROM reconcile_touched WHERE period = 'month'
UNION
SELECT model, grain, grain_id, cohort_month FROM mart.cohort_cac
WHERE window_days IS DISTINCT FROM %(cohort_window_days)s::integer;
ANALYZE reconcile_cohorts;

DELETE FROM mart.cohort_cac AS cohort
USING reconcile_cohorts AS touched
WHERE cohort.model = touched.model AND cohort.grain = touched.grain AND cohort.grain_id = touched.grain_id
  AND cohort.cohort_month = touched.cohort_month;
{% endif %}

CREATE TEMP TABLE reconcile_cohort_wins ON COMMIT DROP AS
SELECT model, level.grain, level.grain_id, won.cohort_month,
       count(*) FILTER (WHERE won.days <= 7)::integer AS won_within_7d,
       count(*) FILTER (WHERE won.days <= 30)::integer AS won_within_30d,
       count(*) FILTER (WHERE won.days <= 90)::integer AS won_within_90d,
       count(*) FILTER (WHERE won.days <= %(cohort_window_days)s::integer)::integer AS won_within_window
FROM (
    SELECT deal.models, deal.report_account_id, deal.campaign_id, deal.ad_group_id, deal.ad_id,
           mart.period_start('month', deal.lead_day) AS cohort_month, deal.won_day - deal.lead_day AS days
    FROM mart.deal_model_touches AS deal
    WHERE deal.channel = 'pinterest_paid' AND deal.report_account_id IS NOT NULL AND deal.is_won
{% if not full %}
      AND deal.lead_day >= (SELECT min(cohort_month) FROM reconcile_cohorts)
{% endif %}
) AS won
CROSS JOIN LATERAL unnest(won.models) AS model
CROSS JOIN LATERAL (
    VALUES ('account', won.report_account_id), ('campaign', won.campaign_id), ('ad_group', won.ad_group_id),
           ('ad', won.ad_id)
) AS level (grain, grain_id)
WHERE level.grain_id IS NOT NULL
GROUP BY model, level.grain, level.grain_id, won.cohort_month;
-- Keyed: an incremental run looks its touched months up here (without the key the planner, expecting one touched
-- row, scanned all of it per row: 152 s at 1,000,000 deals).
ALTER TABLE reconcile_cohort_wins ADD PRIMARY KEY (grain, grain_id, cohort_month, model);
ANALYZE reconcile_cohort_wins;

-- Into the generations table: the view's window columns are computed (NULL while not yet known).
INSERT INTO mart.cohort_cac_generations (
    grain, grain_id, ad_account_id, campaign_id, ad_group_id, ad_id, name, cohort_month, spend, spend_currency,
    leads, won_to_date, cac, won_within_7d, won_within_30d, won_within_90d, won_within_window, window_days,
    open_deals, expected_wins, expected_revenue, expected_revenue_currency, open_without_probability, forecast_cac,
    model, generation
)
SELECT performance.grain, performance.grain_id, performance.ad_account_id, performance.campaign_id,
       performance.ad_group_id, performance.ad_id, performance.name, performance.period_start, performance.spend,
       performance.spend_currency, performance.leads, performance.leads_won_to_date,
       mart.cac(performance.spend, performance.leads_won_to_date),
       COALESCE(wins.won_within_7d, 0), COALESCE(wins.won_within_30d, 0), COALESCE(wins.won_within_90d, 0),
       COALESCE(wins.won_within_window, 0), %(cohort_window_days)s::integer,
       performance.leads_open, performance.leads_expected_wins, performance.leads_expected_revenue,
       performance.revenue_currency, performance.leads_open_without_probability, performance.forecast_cac,
       performance.model, mart.generation()
{% if full %}
FROM mart.performance
{% else %}
-- Each touched month row by the key index (OFFSET 0 keeps the lookup per row: a join to the view would read its
-- synthesised first touch whole, migration 087).
FROM reconcile_cohorts AS touched
CROSS JOIN LATERAL (
    SELECT * FROM mart.performance AS month_row
    WHERE month_row.model = touched.model AND month_row.grain = touched.grain AND month_row.grain_id = touched.grain_id
      AND month_row.period = 'month' AND month_row.period_start = touched.cohort_month
    OFFSET 0
) AS performance
{% endif %}
LEFT JOIN reconcile_cohort_wins AS wins
       ON wins.model = performance.model AND wins.grain = performance.grain AND wins.grain_id = performance.grain_id
      AND wins.cohort_month = performance.period_start
WHERE performance.period = 'month';
