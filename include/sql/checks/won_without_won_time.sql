-- Warning: won deals with neither a closed-won stage entry time nor a closedate count as won but in no period. A
-- rebuild lists them all; an incremental run those among the deals loaded since the last finished run.
{% set plan = ti.xcom_pull(task_ids='plan_reconcile') %}
SELECT deal.stable_key, deal.deal_id, deal.pipeline, deal.dealstage
FROM mart.deal_attribution AS deal
WHERE deal.is_won AND deal.won_at IS NULL
{% if plan['mode'] != 'full' %}
  AND deal.source_modified_at >= '{{ plan['since'] }}'::timestamptz
{% endif %}
ORDER BY deal.stable_key
