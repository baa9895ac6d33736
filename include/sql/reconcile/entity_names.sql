-- Remember every name each Pinterest entity is seen with (normalised as the resolution rule compares them), so a
-- deal carrying a campaign's old name still resolves after the campaign is renamed. Only the entities loaded since
-- the last finished reconcile (with an hour's overlap for loads that were committing then) are read: a rename
-- reloads its entity.
WITH since AS (
    SELECT COALESCE(max(started_at) - interval '1 hour', '-infinity') AS moment
    FROM ops.reconcile_runs WHERE finished_at IS NOT NULL
)
INSERT INTO ops.pinterest_entity_names (level, entity_id, normalized_name)
SELECT 'campaign', campaign_id, mart.normalize_name(name)
FROM raw.pinterest_campaigns WHERE loaded_at >= (SELECT moment FROM since) AND mart.normalize_name(name) IS NOT NULL
UNION ALL
SELECT 'ad_group', ad_group_id, mart.normalize_name(name)
FROM raw.pinterest_ad_groups WHERE loaded_at >= (SELECT moment FROM since) AND mart.normalize_name(name) IS NOT NULL
UNION ALL
SELECT 'ad', ad_id, mart.normalize_name(name)
FROM raw.pinterest_ads WHERE loaded_at >= (SELECT moment FROM since) AND mart.normalize_name(name) IS NOT NULL
ON CONFLICT DO NOTHING;
