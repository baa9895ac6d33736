-- Remember every name each Pinterest entity is seen with (normalised as the resolution rule compares them), so a
-- deal carrying a campaign's old name still resolves after the campaign is renamed.
INSERT INTO ops.pinterest_entity_names (level, entity_id, normalized_name)
SELECT 'campaign', campaign_id, mart.normalize_name(name) FROM raw.pinterest_campaigns WHERE mart.normalize_name(name) IS NOT NULL
UNION ALL
SELECT 'ad_group', ad_group_id, mart.normalize_name(name) FROM raw.pinterest_ad_groups WHERE mart.normalize_name(name) IS NOT NULL
UNION ALL
SELECT 'ad', ad_id, mart.normalize_name(name) FROM raw.pinterest_ads WHERE mart.normalize_name(name) IS NOT NULL
ON CONFLICT DO NOTHING;
