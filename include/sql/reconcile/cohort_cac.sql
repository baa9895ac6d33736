-- Rule: cohort CAC by lead-creation month = the grain's spend in the month / the Pinterest-paid deals created that
-- month that are won by now (NULL when none is). Runs after performance.sql in its transaction: only the month rows
-- it rewrote are refreshed on an incremental run.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
{% if not full %}
DELETE FROM mart.cohort_cac AS cohort
USING reconcile_touched AS touched
WHERE touched.period = 'month' AND cohort.grain = touched.grain AND cohort.grain_id = touched.grain_id
  AND cohort.cohort_month = touched.period_start;
{% endif %}

INSERT INTO mart.cohort_cac (
    grain, grain_id, ad_account_id, campaign_id, ad_group_id, ad_id, name, cohort_month, spend, spend_currency,
    leads, won_to_date, cac
)
SELECT performance.grain, performance.grain_id, performance.ad_account_id, performance.campaign_id,
       performance.ad_group_id, performance.ad_id, performance.name, performance.period_start, performance.spend,
       performance.spend_currency, performance.leads, performance.leads_won_to_date,
       mart.cac(performance.spend, performance.leads_won_to_date)
FROM mart.performance
{% if not full %}
JOIN reconcile_touched AS touched
  ON touched.grain = performance.grain AND touched.grain_id = performance.grain_id
 AND touched.period = performance.period AND touched.period_start = performance.period_start
{% endif %}
WHERE performance.period = 'month';
