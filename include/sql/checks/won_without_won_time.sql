-- Warning: won deals with neither a closed-won stage entry time nor a closedate count as won but in no period. A
-- rebuild lists them all; an incremental run those among the deals loaded since the last finished run.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
SELECT deal.stable_key, deal.deal_id, deal.pipeline, deal.dealstage
FROM mart.deal_attribution AS deal
WHERE deal.is_won AND deal.won_at IS NULL
{% if not full %}
  AND deal.source_modified_at >= (SELECT since FROM ops.reconcile_runs WHERE run_id = %(run_id)s)
{% endif %}
ORDER BY deal.stable_key
