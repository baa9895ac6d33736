-- Warning: counted deals whose amount is negative or not a number (their revenue counts as 0). A rebuild lists every
-- such deal; an incremental run those among the deals loaded since the last finished run.
{% set plan = ti.xcom_pull(task_ids='plan_reconcile') %}
SELECT counted.stable_key, deal.deal_id, left(deal.amount_raw, 200) AS amount_raw, deal.amount_in_home_currency
FROM mart.counted_deals AS counted
JOIN raw.hubspot_deals AS deal ON deal.deal_id = counted.deal_id
WHERE (deal.amount < 0
       OR deal.amount_in_home_currency < 0
       OR (deal.amount IS NULL AND NULLIF(btrim(deal.amount_raw), '') IS NOT NULL))
{% if plan['mode'] != 'full' %}
  AND deal.loaded_at >= '{{ plan['since'] }}'::timestamptz
{% endif %}
ORDER BY counted.stable_key
