-- Blocking, beside reconcile_deals (publish_marts runs only after both): two live deals sharing one stable key would
-- send one conversion for two sales (and cannot both be a row of mart.deal_attribution). A rebuild checks every key; an incremental run the keys of
-- the deals loaded since the last finished run (a key gets a second live deal only when one of them is loaded).
-- Fails naming the keys and their deals.
{% set plan = ti.xcom_pull(task_ids='plan_reconcile') %}
SELECT count(*) = 0 AS passed,
       COALESCE(string_agg(duplicate.stable_key || ' (deals ' || duplicate.deal_ids || ')', ', '), 'none') AS offending
FROM (
    SELECT counted.stable_key, string_agg(counted.deal_id::text, ', ' ORDER BY counted.deal_id) AS deal_ids
    FROM mart.counted_deals AS counted
    {% if plan['mode'] != 'full' %}
    WHERE counted.stable_key IN (
        SELECT own.stable_key
        FROM raw.hubspot_deals AS deal
        JOIN raw.hubspot_deal_ids AS own ON own.deal_id = deal.deal_id AND own.via = 'self'
        WHERE deal.loaded_at >= '{{ plan['since'] }}'::timestamptz
    )
    {% endif %}
    GROUP BY counted.stable_key
    HAVING count(*) > 1
    ORDER BY counted.stable_key
    LIMIT 100
) AS duplicate
