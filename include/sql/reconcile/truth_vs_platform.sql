-- Truth vs platform per campaign and ISO week (and per ad account and week): Pinterest-reported checkouts beside
-- the CRM's won Pinterest deals (paid and organic) resolved there, and the share of those carrying an epik
-- (epik coverage, NULL when none was won), by last touch (the click Pinterest saw last). Runs after performance.sql
-- in its transaction.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
{% if not full %}
DELETE FROM mart.truth_vs_platform AS truth
USING reconcile_touched AS touched
WHERE touched.model = 'last_touch' AND touched.period = 'week' AND truth.grain = touched.grain AND truth.grain_id = touched.grain_id
  AND truth.week_start = touched.period_start;
{% endif %}

INSERT INTO mart.truth_vs_platform (
    grain, grain_id, ad_account_id, campaign_id, name, week_start, platform_checkouts, platform_click_checkouts,
    platform_view_checkouts, crm_won, crm_won_with_epik, epik_coverage
)
SELECT performance.grain, performance.grain_id, performance.ad_account_id, performance.campaign_id,
       performance.name, performance.period_start, performance.platform_checkouts,
       performance.platform_click_checkouts, performance.platform_view_checkouts, performance.pinterest_won,
       performance.pinterest_won_with_epik,
       round(performance.pinterest_won_with_epik::numeric / NULLIF(performance.pinterest_won, 0), 4)
FROM mart.performance
{% if not full %}
JOIN reconcile_touched AS touched
  ON touched.model = performance.model AND touched.grain = performance.grain AND touched.grain_id = performance.grain_id
 AND touched.period = performance.period AND touched.period_start = performance.period_start
{% endif %}
WHERE performance.model = 'last_touch' AND performance.period = 'week' AND performance.grain IN ('account', 'campaign');
