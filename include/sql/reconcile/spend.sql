-- reconcile_spend: the spend side of mart.performance (raw.pinterest_ad_daily summed per grain and period), staged
-- in mart.performance_spend for reconcile_performance, which joins it to the CRM side. It runs beside
-- reconcile_deals (it needs no deal). Full rebuild: the ads' weeks and months and every period of the ad groups,
-- campaigns and ad accounts (reconcile_performance reads the ads' days straight from raw). Incremental: every grain
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

-- Spend per grain and period: the ads' weeks and months in one pass over the ad-day rows, the days of the ad groups,
-- campaigns and ad accounts in another (GROUPING SETS, hashed); weeks and months of those grains are then summed from
-- their days. An ad's day is its raw row: an incremental run copies the re-pulled ones, a rebuild reads
-- them straight from raw.pinterest_ad_daily while writing mart.performance (reconcile_performance).
{% set window %}
{% if not full %}
WHERE daily.date >= (SELECT min(period_start) FROM reconcile_spend_periods)
  AND daily.date < (SELECT max(period_end) FROM reconcile_spend_periods)
{% endif %}
{% endset %}
CREATE TEMP TABLE reconcile_spend ON COMMIT DROP AS
SELECT 'ad'::text AS grain, ad.ad_id AS grain_id, ad.*
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
) AS ad;

INSERT INTO reconcile_spend
SELECT CASE WHEN GROUPING(daily.ad_group_id) = 0 THEN 'ad_group'
            WHEN GROUPING(daily.campaign_id) = 0 THEN 'campaign' ELSE 'account' END AS grain,
       CASE WHEN GROUPING(daily.ad_group_id) = 0 THEN daily.ad_group_id
            WHEN GROUPING(daily.campaign_id) = 0 THEN daily.campaign_id ELSE daily.ad_account_id END AS grain_id,
       min(daily.ad_account_id COLLATE "C") AS ad_account_id,
       CASE WHEN GROUPING(daily.ad_group_id) = 0 OR GROUPING(daily.campaign_id) = 0 THEN min(daily.campaign_id COLLATE "C")
       END AS campaign_id,
       CASE WHEN GROUPING(daily.ad_group_id) = 0 THEN daily.ad_group_id END AS ad_group_id,
       NULL::text AS ad_id, 'day'::text AS period, daily.date AS period_start,
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
            WHEN GROUPING(daily.campaign_id) = 0 THEN daily.campaign_id ELSE daily.ad_account_id END IS NOT NULL;

-- Statistics of the join keys only (the planner needs no more; sampling every column costs seconds at scale).
ANALYZE reconcile_spend (grain, grain_id, period, period_start);
INSERT INTO reconcile_spend
SELECT grain, grain_id, min(ad_account_id COLLATE "C"), min(campaign_id COLLATE "C"),
       min(ad_group_id COLLATE "C"), NULL, periods.period,
       mart.period_start(periods.period, period_start), sum(spend), min(spend_currency COLLATE "C"), sum(impressions),
       sum(clicks), sum(platform_checkouts), sum(platform_click_checkouts), sum(platform_view_checkouts),
       sum(ad_days)
FROM reconcile_spend
CROSS JOIN (VALUES ('week'), ('month')) AS periods (period)
WHERE reconcile_spend.grain <> 'ad' AND reconcile_spend.period = 'day'
GROUP BY grain, grain_id, periods.period, mart.period_start(periods.period, period_start);

{% if not full %}

DELETE FROM reconcile_spend
WHERE (period, period_start) NOT IN (SELECT period, period_start FROM reconcile_spend_periods);
{% endif %}

-- Staged with each row's current entity name (a rename rebuilds everything), and how many, for the guard of
-- reconcile_performance.
INSERT INTO mart.performance_spend
SELECT %(run_id)s, spend.grain, spend.grain_id, spend.ad_account_id, spend.campaign_id, spend.ad_group_id,
       spend.ad_id, entity.name, spend.period, spend.period_start, spend.spend, spend.spend_currency,
       spend.impressions, spend.clicks, spend.platform_checkouts, spend.platform_click_checkouts,
       spend.platform_view_checkouts, spend.ad_days
FROM reconcile_spend AS spend
LEFT JOIN mart.pinterest_entity AS entity ON entity.grain = spend.grain AND entity.grain_id = spend.grain_id;

UPDATE ops.reconcile_runs SET spend_staged_rows = (SELECT count(*) FROM reconcile_spend) WHERE run_id = %(run_id)s;
