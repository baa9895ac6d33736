-- mart.performance: the spend side staged by reconcile_spend (mart.performance_spend) joined to the CRM outcomes
-- (mart.deal_contributions) per touch model, grain and period (the spend the same under both models, the CRM side the
-- model's). Stored sparsely (migration 087): every last-touch row, and a first-touch row only where it differs from
-- its key's last-touch row (its CRM columns; a key without one of the two rows counts as zeros there); the view
-- mart.performance shows the rest of the first touch as the last. Full rebuild: every row. Incremental: the spend of the periods
-- reconcile_spend recomputed replaces theirs, and the CRM side moves by the pending contributions of the changed
-- deals; only the rows those touch are rewritten. CAC and ROAS come from their rule functions (cac.sql, roas.sql),
-- the forecast CAC from forecast.sql.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
{% set performance_columns %}
    grain, grain_id, ad_account_id, campaign_id, ad_group_id, ad_id, name, period, period_start, period_end,
    spend, spend_currency, impressions, clicks, platform_checkouts, platform_click_checkouts,
    platform_view_checkouts, leads, won, revenue, revenue_currency, cac, roas, ad_days, leads_won_to_date,
    pinterest_won, pinterest_won_with_epik, leads_open, leads_expected_wins, leads_expected_revenue,
    leads_open_without_probability, forecast_cac, model
{% endset %}
{#- Rule (migration 087): a first-touch row is stored iff its CRM columns differ from its key's last-touch row's (an
    absent row counts as zeros; the spend is the same). -#}
{#- Rule: the rows mart.performance keeps (spent on, or with a lead or a win; also the view's, migration 087). -#}
{% macro kept(row) -%}
({{ row }}.ad_days > 0 OR {{ row }}.leads <> 0 OR {{ row }}.won <> 0 OR {{ row }}.leads_won_to_date <> 0
 OR {{ row }}.pinterest_won <> 0)
{%- endmacro %}
{#- The CRM columns of a row that may be absent (an outer join's side), zero where it is. -#}
{% macro crm_or_zero(row) -%}
COALESCE({{ row }}.leads, 0) AS leads, COALESCE({{ row }}.won, 0) AS won, COALESCE({{ row }}.revenue, 0) AS revenue,
COALESCE({{ row }}.leads_won_to_date, 0) AS leads_won_to_date, COALESCE({{ row }}.pinterest_won, 0) AS pinterest_won,
COALESCE({{ row }}.pinterest_won_with_epik, 0) AS pinterest_won_with_epik,
COALESCE({{ row }}.leads_open, 0) AS leads_open,
COALESCE({{ row }}.leads_expected_wins, 0) AS leads_expected_wins,
COALESCE({{ row }}.leads_expected_revenue, 0) AS leads_expected_revenue,
COALESCE({{ row }}.leads_open_without_probability, 0) AS leads_open_without_probability
{%- endmacro %}
{% macro first_touch_differs(first, last) -%}
(COALESCE({{ last }}.leads, 0), COALESCE({{ last }}.won, 0), COALESCE({{ last }}.revenue, 0),
 COALESCE({{ last }}.leads_won_to_date, 0), COALESCE({{ last }}.pinterest_won, 0),
 COALESCE({{ last }}.pinterest_won_with_epik, 0), COALESCE({{ last }}.leads_open, 0),
 COALESCE({{ last }}.leads_expected_wins, 0), COALESCE({{ last }}.leads_expected_revenue, 0),
 COALESCE({{ last }}.leads_open_without_probability, 0))
IS DISTINCT FROM
({{ first }}.leads, {{ first }}.won, {{ first }}.revenue, {{ first }}.leads_won_to_date, {{ first }}.pinterest_won,
 {{ first }}.pinterest_won_with_epik, {{ first }}.leads_open, {{ first }}.leads_expected_wins,
 {{ first }}.leads_expected_revenue, {{ first }}.leads_open_without_probability)
{%- endmacro %}
-- Memory for a rebuild's hashes and index builds (in memory, not spilled); no JIT: compiling these plans costs more
-- than it saves.
SET LOCAL work_mem = '512MB';
SET LOCAL jit = off;
SET LOCAL maintenance_work_mem = '1GB';
-- The planner costs sorting millions of text keys far below what it takes (locale-aware comparisons): hash joins.
SET LOCAL enable_mergejoin = off;
SELECT ops.require(
    (SELECT spend_staged_rows FROM ops.reconcile_runs WHERE run_id = %(run_id)s)
        = (SELECT count(*) FROM mart.performance_spend WHERE run_id = %(run_id)s),
    'the spend reconcile_spend staged for run ' || %(run_id)s || ' is gone from mart.performance_spend (another '
    || 'run''s reconcile_spend replaced it): clear reconcile_spend and this task'
);
{% if not full %}
CREATE TEMP TABLE reconcile_spend ON COMMIT DROP AS
SELECT * FROM mart.performance_spend WHERE run_id = %(run_id)s;
CREATE TEMP TABLE reconcile_spend_periods ON COMMIT DROP AS
SELECT period, period_start, period_end FROM mart.performance_spend_periods WHERE run_id = %(run_id)s;
ANALYZE reconcile_spend (grain, grain_id, period, period_start);
ANALYZE reconcile_spend_periods;
{% endif %}

-- CRM outcomes: the contributions (every counted deal's on a full rebuild, else the pending changes) summed per
-- model, ad account, campaign, ad group, ad and day, then per grain and period. A rebuild sums every deal's touches
-- once, per the models they count under (contributions.sql: a deal whose first touch is its last is one touch of
-- both), and only then gives each model its sums: the first touch costs the differing deals, not every deal again.
CREATE TEMP TABLE reconcile_events ON COMMIT DROP AS
SELECT model, ad_account_id, campaign_id, ad_group_id, ad_id, day, sum(leads)::integer AS leads,
       sum(won)::integer AS won, sum(revenue) AS revenue, sum(leads_won_to_date)::integer AS leads_won_to_date,
       sum(pinterest_won)::integer AS pinterest_won, sum(pinterest_won_with_epik)::integer AS pinterest_won_with_epik,
       sum(leads_open)::integer AS leads_open, sum(leads_expected_wins) AS leads_expected_wins,
       sum(leads_expected_revenue) AS leads_expected_revenue,
       sum(leads_open_without_probability)::integer AS leads_open_without_probability,
       bool_or(differs) AS differs
{% if full %}
FROM (
    SELECT models, ad_account_id, campaign_id, ad_group_id, ad_id, day, sum(leads) AS leads, sum(won) AS won,
           sum(revenue) AS revenue, sum(leads_won_to_date) AS leads_won_to_date, sum(pinterest_won) AS pinterest_won,
           sum(pinterest_won_with_epik) AS pinterest_won_with_epik, sum(leads_open) AS leads_open,
           sum(leads_expected_wins) AS leads_expected_wins, sum(leads_expected_revenue) AS leads_expected_revenue,
           sum(leads_open_without_probability) AS leads_open_without_probability,
           cardinality(models) = 1 AS differs  -- a touch of one model only: a deal whose first touch differs
    FROM mart.deal_contributions
    GROUP BY models, ad_account_id, campaign_id, ad_group_id, ad_id, day
) AS touches
CROSS JOIN LATERAL unnest(touches.models) AS model
{% else %}
FROM (SELECT *, true AS differs FROM mart.performance_pending) AS pending
{% endif %}
GROUP BY model, ad_account_id, campaign_id, ad_group_id, ad_id, day;
TRUNCATE mart.performance_pending;

-- Every grain and period in one hashed pass over the day-level events (GROUPING SETS), then the entity's name, the
-- account, campaign and ad group it belongs to, and its ad account's currency (the spend currency of a row without
-- spend).
CREATE TEMP TABLE reconcile_crm ON COMMIT DROP AS
WITH entity AS MATERIALIZED (SELECT * FROM mart.pinterest_entity)  -- hashed once, not probed row by row
SELECT grouped.model, grouped.grain, grouped.grain_id, entity.ad_account_id, entity.campaign_id, entity.ad_group_id,
       CASE WHEN grouped.grain = 'ad' THEN grouped.grain_id END AS ad_id,
       grouped.period, grouped.period_start, grouped.leads, grouped.won, grouped.revenue,
       grouped.leads_won_to_date, grouped.pinterest_won, grouped.pinterest_won_with_epik, grouped.leads_open,
       grouped.leads_expected_wins, grouped.leads_expected_revenue, grouped.leads_open_without_probability,
       entity.name,
       account.currency AS account_currency, grouped.differs
FROM (
    SELECT event.model, CASE WHEN GROUPING(event.ad_id) = 0 THEN 'ad' WHEN GROUPING(event.ad_group_id) = 0 THEN 'ad_group'
                WHEN GROUPING(event.campaign_id) = 0 THEN 'campaign' ELSE 'account' END AS grain,
           CASE WHEN GROUPING(event.ad_id) = 0 THEN event.ad_id WHEN GROUPING(event.ad_group_id) = 0
                THEN event.ad_group_id WHEN GROUPING(event.campaign_id) = 0 THEN event.campaign_id
                ELSE event.ad_account_id END AS grain_id,
           CASE WHEN GROUPING(event.day) = 0 THEN 'day' WHEN GROUPING(event.week) = 0 THEN 'week' ELSE 'month'
           END AS period,
           CASE WHEN GROUPING(event.day) = 0 THEN event.day WHEN GROUPING(event.week) = 0 THEN event.week
                ELSE event.month END AS period_start,
           sum(event.leads)::integer AS leads, sum(event.won)::integer AS won, sum(event.revenue) AS revenue,
           sum(event.leads_won_to_date)::integer AS leads_won_to_date,
           sum(event.pinterest_won)::integer AS pinterest_won,
           sum(event.pinterest_won_with_epik)::integer AS pinterest_won_with_epik,
           sum(event.leads_open)::integer AS leads_open, sum(event.leads_expected_wins) AS leads_expected_wins,
           sum(event.leads_expected_revenue) AS leads_expected_revenue,
           sum(event.leads_open_without_probability)::integer AS leads_open_without_probability,
           bool_or(event.differs) AS differs
    FROM (
        SELECT events.*, mart.period_start('week', events.day) AS week,
               mart.period_start('month', events.day) AS month
        FROM reconcile_events AS events
    ) AS event
    GROUP BY event.model, GROUPING SETS (
        (event.ad_id, event.day), (event.ad_id, event.week), (event.ad_id, event.month),
        (event.ad_group_id, event.day), (event.ad_group_id, event.week), (event.ad_group_id, event.month),
        (event.campaign_id, event.day), (event.campaign_id, event.week), (event.campaign_id, event.month),
        (event.ad_account_id, event.day), (event.ad_account_id, event.week), (event.ad_account_id, event.month)
    )
) AS grouped
LEFT JOIN entity ON entity.grain = grouped.grain AND entity.grain_id = grouped.grain_id
LEFT JOIN raw.pinterest_ad_accounts AS account ON account.ad_account_id = entity.ad_account_id
WHERE grouped.grain_id IS NOT NULL;

-- Statistics of the join keys only (the planner needs no more; sampling every column costs seconds at scale).
ANALYZE reconcile_crm (model, grain, grain_id, period, period_start);

{% if full %}
-- A rebuild writes every row into its new, empty generation: the indexes are built once, after them.
-- Every last-touch row in one statement: the ads' days are the raw rows joined to their CRM days, every other grain
-- and period the staged spend sums joined to the CRM sums.
INSERT INTO mart.performance_generations ({{ performance_columns }})
WITH line AS (
    SELECT 'last_touch'::text AS model, 'ad'::text AS grain, COALESCE(daily.ad_id, crm.grain_id) AS grain_id,
           COALESCE(daily.ad_account_id, crm.ad_account_id) AS ad_account_id,
           COALESCE(daily.campaign_id, crm.campaign_id) AS campaign_id,
           COALESCE(daily.ad_group_id, crm.ad_group_id) AS ad_group_id,
           COALESCE(daily.ad_id, crm.ad_id) AS ad_id, COALESCE(ad.name, crm.name) AS name, 'day'::text AS period,
           COALESCE(daily.date, crm.period_start) AS period_start,
           COALESCE(daily.spend, 0) AS spend, COALESCE(daily.currency, crm.account_currency) AS spend_currency,
           COALESCE(daily.impressions, 0) AS impressions, COALESCE(daily.clicks, 0) AS clicks,
           COALESCE(daily.checkouts, 0) AS platform_checkouts,
           COALESCE(daily.click_checkouts, 0) AS platform_click_checkouts,
           COALESCE(daily.view_checkouts, 0) AS platform_view_checkouts,
           (daily.ad_id IS NOT NULL)::integer AS ad_days,
           crm.leads, crm.won, crm.revenue, crm.leads_won_to_date, crm.pinterest_won, crm.pinterest_won_with_epik,
           crm.leads_open, crm.leads_expected_wins, crm.leads_expected_revenue, crm.leads_open_without_probability
    FROM raw.pinterest_ad_daily AS daily
    LEFT JOIN raw.pinterest_ads AS ad ON ad.ad_id = daily.ad_id
    FULL JOIN (SELECT * FROM reconcile_crm WHERE model = 'last_touch' AND grain = 'ad' AND period = 'day') AS crm
           ON crm.grain_id = daily.ad_id AND crm.period_start = daily.date
    UNION ALL
    SELECT 'last_touch', grain, grain_id, COALESCE(spend.ad_account_id, crm.ad_account_id),
           COALESCE(spend.campaign_id, crm.campaign_id), COALESCE(spend.ad_group_id, crm.ad_group_id),
           COALESCE(spend.ad_id, crm.ad_id), COALESCE(spend.name, crm.name), period, period_start,
           COALESCE(spend.spend, 0), COALESCE(spend.spend_currency, crm.account_currency),
           COALESCE(spend.impressions, 0), COALESCE(spend.clicks, 0),
           COALESCE(spend.platform_checkouts, 0), COALESCE(spend.platform_click_checkouts, 0),
           COALESCE(spend.platform_view_checkouts, 0), COALESCE(spend.ad_days, 0),
           crm.leads, crm.won, crm.revenue, crm.leads_won_to_date, crm.pinterest_won, crm.pinterest_won_with_epik,
           crm.leads_open, crm.leads_expected_wins, crm.leads_expected_revenue, crm.leads_open_without_probability
    FROM (SELECT * FROM mart.performance_spend WHERE run_id = %(run_id)s) AS spend
    FULL JOIN (SELECT * FROM reconcile_crm WHERE model = 'last_touch' AND (grain <> 'ad' OR period <> 'day')) AS crm
         USING (grain, grain_id, period, period_start)
)
SELECT line.grain, line.grain_id, line.ad_account_id, line.campaign_id, line.ad_group_id, line.ad_id, line.name,
       line.period, line.period_start, mart.period_end(line.period, line.period_start), line.spend,
       line.spend_currency, line.impressions, line.clicks, line.platform_checkouts, line.platform_click_checkouts,
       line.platform_view_checkouts, value.leads, value.won, value.revenue, %(home_currency)s,
       mart.cac(line.spend, value.won), mart.roas(value.revenue, %(home_currency)s, line.spend, line.spend_currency),
       line.ad_days, value.leads_won_to_date, value.pinterest_won, value.pinterest_won_with_epik, value.leads_open,
       value.leads_expected_wins, value.leads_expected_revenue, value.leads_open_without_probability,
       mart.forecast_cac(line.spend, value.leads_won_to_date, value.leads_expected_wins,
                         value.leads_open_without_probability),
       line.model
FROM line
CROSS JOIN LATERAL (
    SELECT {{ crm_or_zero('line') }}
) AS value
WHERE line.ad_days > 0 OR value.leads <> 0 OR value.won <> 0 OR value.leads_won_to_date <> 0
   OR value.pinterest_won <> 0;

SELECT mart.index_generation('performance');

-- The first-touch rows that differ from their last-touch row, after it (read by its key index): only a key a deal
-- whose first touch differs contributes to, under either model, can differ; each such key's first-touch CRM side
-- beside its last-touch row's, the spend that row's.
INSERT INTO mart.performance_generations ({{ performance_columns }})
SELECT key.grain, key.grain_id, COALESCE(last.ad_account_id, first.ad_account_id),
       COALESCE(last.campaign_id, first.campaign_id), COALESCE(last.ad_group_id, first.ad_group_id),
       COALESCE(last.ad_id, first.ad_id), COALESCE(last.name, first.name), key.period, key.period_start,
       mart.period_end(key.period, key.period_start), spend.spend, spend.spend_currency, spend.impressions,
       spend.clicks, spend.platform_checkouts, spend.platform_click_checkouts, spend.platform_view_checkouts,
       value.leads, value.won, value.revenue, %(home_currency)s, mart.cac(spend.spend, value.won),
       mart.roas(value.revenue, %(home_currency)s, spend.spend, spend.spend_currency), spend.ad_days,
       value.leads_won_to_date, value.pinterest_won, value.pinterest_won_with_epik, value.leads_open,
       value.leads_expected_wins, value.leads_expected_revenue, value.leads_open_without_probability,
       mart.forecast_cac(spend.spend, value.leads_won_to_date, value.leads_expected_wins,
                         value.leads_open_without_probability),
       'first_touch'
FROM (SELECT DISTINCT grain, grain_id, period, period_start FROM reconcile_crm WHERE differs) AS key
LEFT JOIN reconcile_crm AS first
       ON first.model = 'first_touch' AND first.grain = key.grain AND first.grain_id = key.grain_id
      AND first.period = key.period AND first.period_start = key.period_start
LEFT JOIN mart.performance_generations AS last
       ON last.generation = mart.generation() AND last.model = 'last_touch' AND last.grain = key.grain
      AND last.grain_id = key.grain_id AND last.period = key.period AND last.period_start = key.period_start
CROSS JOIN LATERAL (
    SELECT COALESCE(last.spend, 0) AS spend, COALESCE(last.spend_currency, first.account_currency) AS spend_currency,
           COALESCE(last.impressions, 0) AS impressions, COALESCE(last.clicks, 0) AS clicks,
           COALESCE(last.platform_checkouts, 0) AS platform_checkouts,
           COALESCE(last.platform_click_checkouts, 0) AS platform_click_checkouts,
           COALESCE(last.platform_view_checkouts, 0) AS platform_view_checkouts,
           COALESCE(last.ad_days, 0) AS ad_days
) AS spend
CROSS JOIN LATERAL (
    SELECT {{ crm_or_zero('first') }}
) AS value
WHERE {{ first_touch_differs('value', 'last') }};
{% else %}
-- The rows this run rewrites, under both models (a key's stored first-touch row depends on its last-touch row): the
-- recomputed spend's, the changed deals' and the recomputed periods' spent ones.
CREATE TEMP TABLE reconcile_touched ON COMMIT DROP AS
SELECT models.model, keys.grain, keys.grain_id, keys.period, keys.period_start
FROM (
    SELECT grain, grain_id, period, period_start FROM reconcile_spend
    UNION
    SELECT grain, grain_id, period, period_start FROM reconcile_crm
    UNION
    SELECT spent.grain, spent.grain_id, spent.period, spent.period_start
    FROM reconcile_spend_periods AS recomputed
    CROSS JOIN LATERAL (
        -- One recomputed period at a time, by the spend index (period_start, ad_days > 0): joined as a whole, the
        -- planner scanned every row of the generation for them (4 s of a 1,000,000-deal incremental run).
        SELECT performance.grain, performance.grain_id, performance.period, performance.period_start
        FROM mart.performance
        WHERE performance.model = 'last_touch' AND performance.ad_days > 0
          AND performance.period = recomputed.period AND performance.period_start = recomputed.period_start
        OFFSET 0
    ) AS spent
) AS keys
CROSS JOIN (VALUES ('last_touch'::text), ('first_touch')) AS models (model);
ANALYZE reconcile_touched;

CREATE TEMP TABLE reconcile_rows ON COMMIT DROP AS
SELECT touched.model, touched.grain, touched.grain_id, touched.period, touched.period_start,
       COALESCE(spend.ad_account_id, crm.ad_account_id, old.ad_account_id) AS ad_account_id,
       COALESCE(spend.campaign_id, crm.campaign_id, old.campaign_id) AS campaign_id,
       COALESCE(spend.ad_group_id, crm.ad_group_id, old.ad_group_id) AS ad_group_id,
       COALESCE(spend.ad_id, crm.ad_id, old.ad_id) AS ad_id, COALESCE(spend.name, crm.name, old.name) AS name,
       recomputed.period IS NOT NULL AS spend_recomputed,
       spend.spend, COALESCE(spend.spend_currency, old.spend_currency, crm.account_currency) AS spend_currency,
       spend.impressions, spend.clicks, spend.platform_checkouts,
       spend.platform_click_checkouts, spend.platform_view_checkouts, spend.ad_days,
       crm.leads, crm.won, crm.revenue, crm.leads_won_to_date, crm.pinterest_won, crm.pinterest_won_with_epik,
       crm.leads_open, crm.leads_expected_wins, crm.leads_expected_revenue, crm.leads_open_without_probability,
       old.spend AS old_spend, old.impressions AS old_impressions,
       old.clicks AS old_clicks, old.platform_checkouts AS old_platform_checkouts,
       old.platform_click_checkouts AS old_platform_click_checkouts,
       old.platform_view_checkouts AS old_platform_view_checkouts, old.ad_days AS old_ad_days,
       old.leads AS old_leads, old.won AS old_won, old.revenue AS old_revenue,
       old.leads_won_to_date AS old_leads_won_to_date, old.pinterest_won AS old_pinterest_won,
       old.pinterest_won_with_epik AS old_pinterest_won_with_epik, old.leads_open AS old_leads_open,
       old.leads_expected_wins AS old_leads_expected_wins, old.leads_expected_revenue AS old_leads_expected_revenue,
       old.leads_open_without_probability AS old_leads_open_without_probability
FROM reconcile_touched AS touched
LEFT JOIN reconcile_spend AS spend USING (grain, grain_id, period, period_start)
LEFT JOIN reconcile_crm AS crm USING (model, grain, grain_id, period, period_start)
-- The old row as mart.performance shows it (a first-touch row: the stored one, else the last-touch row), read from
-- the stored rows by hashed joins (the view's synthesised first touch is no join path).
LEFT JOIN mart.performance_generations AS stored_last
       ON stored_last.generation = (SELECT mart.generation()) AND stored_last.model = 'last_touch'
      AND stored_last.grain = touched.grain AND stored_last.grain_id = touched.grain_id
      AND stored_last.period = touched.period AND stored_last.period_start = touched.period_start
LEFT JOIN mart.performance_generations AS stored_first
       ON stored_first.generation = (SELECT mart.generation()) AND stored_first.model = 'first_touch'
      AND touched.model = 'first_touch' AND stored_first.grain = touched.grain
      AND stored_first.grain_id = touched.grain_id AND stored_first.period = touched.period
      AND stored_first.period_start = touched.period_start
CROSS JOIN LATERAL (
    SELECT (CASE WHEN stored_first.grain IS NOT NULL THEN stored_first ELSE stored_last END).*
) AS old
LEFT JOIN reconcile_spend_periods AS recomputed
       ON recomputed.period = touched.period AND recomputed.period_start = touched.period_start;

-- Each touched row's new values under both models (a row the mart's rule drops included: it decides whether its key
-- stores a first-touch row).
CREATE TEMP TABLE reconcile_new ON COMMIT DROP AS
SELECT {{ performance_columns }} FROM mart.performance_generations WITH NO DATA;
INSERT INTO reconcile_new ({{ performance_columns }})
SELECT line.grain, line.grain_id, line.ad_account_id, line.campaign_id, line.ad_group_id, line.ad_id, line.name,
       line.period, line.period_start, mart.period_end(line.period, line.period_start),
       value.spend, value.spend_currency, value.impressions, value.clicks, value.platform_checkouts,
       value.platform_click_checkouts, value.platform_view_checkouts, value.leads, value.won, value.revenue,
       %(home_currency)s,
       mart.cac(value.spend, value.won),
       mart.roas(value.revenue, %(home_currency)s, value.spend, value.spend_currency),
       value.ad_days, value.leads_won_to_date, value.pinterest_won, value.pinterest_won_with_epik, value.leads_open,
       value.leads_expected_wins, value.leads_expected_revenue, value.leads_open_without_probability,
       mart.forecast_cac(value.spend, value.leads_won_to_date, value.leads_expected_wins,
                         value.leads_open_without_probability),
       line.model
FROM reconcile_rows AS line
CROSS JOIN LATERAL (
    SELECT CASE WHEN line.spend_recomputed THEN COALESCE(line.spend, 0) ELSE COALESCE(line.old_spend, 0) END AS spend,
           line.spend_currency,
           CASE WHEN line.spend_recomputed THEN COALESCE(line.impressions, 0) ELSE COALESCE(line.old_impressions, 0) END AS impressions,
           CASE WHEN line.spend_recomputed THEN COALESCE(line.clicks, 0) ELSE COALESCE(line.old_clicks, 0) END AS clicks,
           CASE WHEN line.spend_recomputed THEN COALESCE(line.platform_checkouts, 0)
                ELSE COALESCE(line.old_platform_checkouts, 0) END AS platform_checkouts,
           CASE WHEN line.spend_recomputed THEN COALESCE(line.platform_click_checkouts, 0)
                ELSE COALESCE(line.old_platform_click_checkouts, 0) END AS platform_click_checkouts,
           CASE WHEN line.spend_recomputed THEN COALESCE(line.platform_view_checkouts, 0)
                ELSE COALESCE(line.old_platform_view_checkouts, 0) END AS platform_view_checkouts,
           CASE WHEN line.spend_recomputed THEN COALESCE(line.ad_days, 0) ELSE COALESCE(line.old_ad_days, 0) END AS ad_days,
           COALESCE(line.old_leads, 0) + COALESCE(line.leads, 0) AS leads,
           COALESCE(line.old_won, 0) + COALESCE(line.won, 0) AS won,
           COALESCE(line.old_revenue, 0) + COALESCE(line.revenue, 0) AS revenue,
           COALESCE(line.old_leads_won_to_date, 0) + COALESCE(line.leads_won_to_date, 0) AS leads_won_to_date,
           COALESCE(line.old_pinterest_won, 0) + COALESCE(line.pinterest_won, 0) AS pinterest_won,
           COALESCE(line.old_pinterest_won_with_epik, 0) + COALESCE(line.pinterest_won_with_epik, 0)
               AS pinterest_won_with_epik,
           COALESCE(line.old_leads_open, 0) + COALESCE(line.leads_open, 0) AS leads_open,
           COALESCE(line.old_leads_expected_wins, 0) + COALESCE(line.leads_expected_wins, 0) AS leads_expected_wins,
           COALESCE(line.old_leads_expected_revenue, 0) + COALESCE(line.leads_expected_revenue, 0)
               AS leads_expected_revenue,
           COALESCE(line.old_leads_open_without_probability, 0) + COALESCE(line.leads_open_without_probability, 0)
               AS leads_open_without_probability
) AS value;

DELETE FROM mart.performance_generations AS performance
USING reconcile_touched AS touched
WHERE performance.generation = mart.generation() AND performance.model = touched.model
  AND performance.grain = touched.grain AND performance.grain_id = touched.grain_id
  AND performance.period = touched.period AND performance.period_start = touched.period_start;

-- The last-touch rows the mart's rule keeps; the first-touch rows that differ from them.
INSERT INTO mart.performance_generations ({{ performance_columns }})
SELECT {{ performance_columns }} FROM reconcile_new AS line
WHERE line.model = 'last_touch' AND {{ kept('line') }};

INSERT INTO mart.performance_generations ({{ performance_columns }})
SELECT {% for column in performance_columns.split(',') %}first.{{ column.strip() }}{{ ', ' if not loop.last }}{% endfor %}
FROM reconcile_new AS first
LEFT JOIN reconcile_new AS last
       ON last.model = 'last_touch' AND last.grain = first.grain AND last.grain_id = first.grain_id
      AND last.period = first.period AND last.period_start = first.period_start AND {{ kept('last') }}
WHERE first.model = 'first_touch' AND {{ first_touch_differs('first', 'last') }};

{% endif %}
