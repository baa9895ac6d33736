-- Warning: spend on campaigns (or ads) the entity refresh never listed. It counts for the account, but no campaign
-- row carries it. One row per campaign and ad: a rebuild lists them all; an incremental run those with ad-days loaded
-- since the last finished run (a change of the listed entities rebuilds).
{% set plan = ti.xcom_pull(task_ids='plan_reconcile') %}
SELECT daily.campaign_id, daily.ad_id, count(*) AS days, sum(daily.spend) AS spend, min(daily.currency) AS currency
FROM raw.pinterest_ad_daily AS daily
WHERE (NOT EXISTS (SELECT FROM raw.pinterest_campaigns AS campaign WHERE campaign.campaign_id = daily.campaign_id)
       OR NOT EXISTS (SELECT FROM raw.pinterest_ads AS ad WHERE ad.ad_id = daily.ad_id))
{% if plan['mode'] != 'full' %}
  AND daily.loaded_at >= '{{ plan['since'] }}'::timestamptz
{% endif %}
GROUP BY daily.campaign_id, daily.ad_id
ORDER BY daily.campaign_id, daily.ad_id
