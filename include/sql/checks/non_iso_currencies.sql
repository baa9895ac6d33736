-- Warning: currencies that are not ISO 4217 codes: on counted deals (deal_currency_code, left NULL in raw) and on
-- spend rows (the ad account's currency). A rebuild lists them all; an incremental run those among the deals and
-- ad-days loaded since the last finished run.
{% set plan = ti.xcom_pull(task_ids='plan_reconcile') %}
SELECT 'deal ' || counted.stable_key AS record, deal.properties ->> 'deal_currency_code' AS currency
FROM mart.counted_deals AS counted
JOIN raw.hubspot_deals AS deal ON deal.deal_id = counted.deal_id
WHERE deal.currency IS NULL AND NULLIF(btrim(deal.properties ->> 'deal_currency_code'), '') IS NOT NULL
{% if plan['mode'] != 'full' %}
  AND deal.loaded_at >= '{{ plan['since'] }}'::timestamptz
{% endif %}
UNION ALL
SELECT 'ad account ' || daily.ad_account_id, daily.currency
FROM raw.pinterest_ad_daily AS daily
WHERE daily.currency !~ '^[A-Z]{3}$'
{% if plan['mode'] != 'full' %}
  AND daily.loaded_at >= '{{ plan['since'] }}'::timestamptz
{% endif %}
GROUP BY daily.ad_account_id, daily.currency
ORDER BY 1
