-- Blocking: two live deals sharing one stable key would send one conversion for two sales (and cannot both be a
-- row of mart.deal_attribution). Fails naming the keys and their deals.
SELECT count(*) = 0 AS passed,
       COALESCE(string_agg(duplicate.stable_key || ' (deals ' || duplicate.deal_ids || ')', ', '), 'none') AS offending
FROM (
    SELECT counted.stable_key, string_agg(counted.deal_id::text, ', ' ORDER BY counted.deal_id) AS deal_ids
    FROM mart.counted_deals AS counted
    GROUP BY counted.stable_key
    HAVING count(*) > 1
    ORDER BY counted.stable_key
    LIMIT 100
) AS duplicate;
