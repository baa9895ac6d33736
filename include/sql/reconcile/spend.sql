-- reconcile_spend: the spend side of mart.performance (raw.pinterest_ad_daily summed per grain and period), staged
-- in mart.performance_spend for publish_marts, which joins it to the CRM side. It runs beside
-- reconcile_deals (it needs no deal). Full rebuild: the ads' weeks and months and every period of the ad groups,
-- campaigns and ad accounts (publish_marts reads the ads' days straight from raw). Incremental: every grain
-- and period containing a day whose ad rows were loaded, or deleted, since the last reconcile
-- (mart.performance_spend_periods), the ads' days included.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
-- Memory for the hashed sums (in memory, not spilled); no JIT: compiling these plans costs more than it saves.
SET LOCAL work_mem = '512MB';
SET LOCAL jit = off;
-- reconcile_deals runs beside this task on the other core: parallel workers would only contend with it.
SET LOCAL max_parallel_workers_per_gather = 0;
TRUNCATE mart.performance_spend;
DELETE FROM mart.performance_spend_periods;
{% if not full %}
INSERT INTO mart.performance_spend_periods (run_id, period, period_start, period_end)
SELECT DISTINCT %(run_id)s, periods.period, mart.period_start(periods.period, changed.date),
       mart.period_end(periods.period, mart.period_start(periods.period, changed.date))
FROM (
    SELECT date FROM raw.pinterest_ad_daily
    WHERE loaded_at >= (SELECT since FROM ops.reconcile_runs WHERE run_id = %(run_id)s)
    UNION
    SELECT date FROM raw.pinterest_ad_daily_deleted
    WHERE deleted_at >= (SELECT since FROM ops.reconcile_runs WHERE run_id = %(run_id)s)
) AS changed
CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS periods (period);
CREATE TEMP TABLE reconcile_spend_periods ON COMMIT DROP AS
SELECT period, period_start, period_end FROM mart.performance_spend_periods WHERE run_id = %(run_id)s;
ANALYZE reconcile_spend_periods;
{% endif %}

-- Spend per grain and period, staged with each row's current entity name (a rename rebuilds everything): the ads'
-- weeks and months in one pass over the ad-day rows, the days of the ad groups, campaigns and ad accounts in another
-- (GROUPING SETS, hashed); weeks and months of those grains are then summed from their days. An ad's day is its raw
-- row: an incremental run stages the re-pulled ones, a rebuild's publish_marts reads them straight from
-- raw.pinterest_ad_daily.
{% set window %}
{% if not full %}
WHERE daily.date >= (SELECT min(period_start) FROM reconcile_spend_periods)
  AND daily.date < (SELECT max(period_end) FROM reconcile_spend_periods)
{% endif %}
{% endset %}
{% set columns %}
    run_id, grain, grain_id, ad_account_id, campaign_id, ad_group_id, ad_id, name, period, period_start, spend,
    spend_currency, impressions, clicks, platform_checkouts, platform_click_checkouts, platform_view_checkouts, ad_days
{% endset %}
INSERT INTO mart.performance_spend ({{ columns }})
SELECT %(run_id)s, 'ad', ad.ad_id, ad.ad_account_id, ad.campaign_id, ad.ad_group_id, ad.ad_id, entity.name, ad.period,
       ad.period_start, ad.spend, ad.spend_currency, ad.impressions, ad.clicks, ad.platform_checkouts,
       ad.platform_click_checkouts, ad.platform_view_checkouts, ad.ad_days
FROM (
    {% if not full %}
    SELECT daily.ad_account_id, daily.campaign_id, daily.ad_group_id, daily.ad_id, 'day'::text AS period,
           daily.date AS period_start, COALESCE(daily.spend, 0) AS spend, daily.currency AS spend_currency,
           COALESCE(daily.impressions, 0) AS impressions, COALESCE(daily.clicks, 0) AS clicks,
           COALESCE(daily.checkouts, 0) AS platform_checkouts,
           COALESCE(daily.click_checkouts, 0) AS platform_click_checkouts,
           COALESCE(daily.view_checkouts, 0) AS platform_view_checkouts, 1 AS ad_days
    FROM raw.pinterest_ad_daily AS daily
    {{ window }}
    UNION ALL
    {% endif %}
    SELECT min(daily.ad_account_id COLLATE "C") AS ad_account_id, min(daily.campaign_id COLLATE "C") AS campaign_id,
           min(daily.ad_group_id COLLATE "C") AS ad_group_id, daily.ad_id, periods.period,
           mart.period_start(periods.period, daily.date) AS period_start, COALESCE(sum(daily.spend), 0) AS spend,
           min(daily.currency COLLATE "C") AS spend_currency, COALESCE(sum(daily.impressions), 0) AS impressions,
           COALESCE(sum(daily.clicks), 0) AS clicks, COALESCE(sum(daily.checkouts), 0) AS platform_checkouts,
           COALESCE(sum(daily.click_checkouts), 0) AS platform_click_checkouts,
           COALESCE(sum(daily.view_checkouts), 0) AS platform_view_checkouts, count(*)::integer AS ad_days
    FROM raw.pinterest_ad_daily AS daily
    CROSS JOIN (VALUES ('week'), ('month')) AS periods (period)
    {{ window }}
    GROUP BY daily.ad_id, periods.period, mart.period_start(periods.period, daily.date)
) AS ad
LEFT JOIN raw.pinterest_ads AS entity ON entity.ad_id = ad.ad_id;

INSERT INTO mart.performance_spend ({{ columns }})
WITH entity AS MATERIALIZED (SELECT * FROM mart.pinterest_entity)  -- hashed once, not probed row by row
SELECT %(run_id)s, day.grain, day.grain_id, day.ad_account_id, day.campaign_id, day.ad_group_id, NULL, entity.name,
       'day', day.date, day.spend, day.spend_currency, day.impressions, day.clicks, day.platform_checkouts,
       day.platform_click_checkouts, day.platform_view_checkouts, day.ad_days
FROM (
    SELECT CASE WHEN GROUPING(daily.ad_group_id) = 0 THEN 'ad_group'
                WHEN GROUPING(daily.campaign_id) = 0 THEN 'campaign' ELSE 'account' END AS grain,
           CASE WHEN GROUPING(daily.ad_group_id) = 0 THEN daily.ad_group_id
                WHEN GROUPING(daily.campaign_id) = 0 THEN daily.campaign_id ELSE daily.ad_account_id END AS grain_id,
           min(daily.ad_account_id COLLATE "C") AS ad_account_id,
           CASE WHEN GROUPING(daily.ad_group_id) = 0 OR GROUPING(daily.campaign_id) = 0
                THEN min(daily.campaign_id COLLATE "C") END AS campaign_id,
           CASE WHEN GROUPING(daily.ad_group_id) = 0 THEN daily.ad_group_id END AS ad_group_id, daily.date,
           COALESCE(sum(daily.spend), 0) AS spend, min(daily.currency COLLATE "C") AS spend_currency,
           COALESCE(sum(daily.impressions), 0) AS impressions, COALESCE(sum(daily.clicks), 0) AS clicks,
           COALESCE(sum(daily.checkouts), 0) AS platform_checkouts,
           COALESCE(sum(daily.click_checkouts), 0) AS platform_click_checkouts,
           COALESCE(sum(daily.view_checkouts), 0) AS platform_view_checkouts, count(*)::integer AS ad_days
    FROM raw.pinterest_ad_daily AS daily
    {{ window }}
    GROUP BY GROUPING SETS ((daily.ad_group_id, daily.date), (daily.campaign_id, daily.date),
                            (daily.ad_account_id, daily.date))
    HAVING CASE WHEN GROUPING(daily.ad_group_id) = 0 THEN daily.ad_group_id
                WHEN GROUPING(daily.campaign_id) = 0 THEN daily.campaign_id ELSE daily.ad_account_id END IS NOT NULL
) AS day
LEFT JOIN entity ON entity.grain = day.grain AND entity.grain_id = day.grain_id;

-- Statistics of the grouping keys only (the planner needs no more; sampling every column costs seconds at scale).
ANALYZE mart.performance_spend (grain, grain_id, period, period_start);
INSERT INTO mart.performance_spend ({{ columns }})
SELECT %(run_id)s, day.grain, day.grain_id, min(day.ad_account_id COLLATE "C"), min(day.campaign_id COLLATE "C"),
       min(day.ad_group_id COLLATE "C"), NULL, min(day.name COLLATE "C"), periods.period,
       mart.period_start(periods.period, day.period_start), sum(day.spend), min(day.spend_currency COLLATE "C"),
       sum(day.impressions), sum(day.clicks), sum(day.platform_checkouts), sum(day.platform_click_checkouts),
       sum(day.platform_view_checkouts), sum(day.ad_days)
FROM mart.performance_spend AS day
CROSS JOIN (VALUES ('week'), ('month')) AS periods (period)
WHERE day.run_id = %(run_id)s AND day.grain <> 'ad' AND day.period = 'day'
GROUP BY day.grain, day.grain_id, periods.period, mart.period_start(periods.period, day.period_start);
{% if not full %}

DELETE FROM mart.performance_spend
WHERE (period, period_start) NOT IN (SELECT period, period_start FROM reconcile_spend_periods);
{% endif %}

-- How many rows, for the guard of publish_marts (performance.sql).
UPDATE ops.reconcile_runs SET spend_staged_rows = (SELECT count(*) FROM mart.performance_spend WHERE run_id = %(run_id)s)
WHERE run_id = %(run_id)s;
