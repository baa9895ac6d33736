-- Since when an entity has held each of its names (issue 21): a name resolves, for a deal, to the entity that most
-- recently took it at the deal's creation, so a campaign taking an old name (a renamed campaign's former name,
-- "Black Friday" again next year) never moves earlier deals. An entity's first name is held since its creation
-- (Pinterest's created_time); a later name since the entity's updated_time when the reconcile first saw it (the
-- rename is no later than that), written by include/sql/reconcile/entity_names.sql.
-- Names seen before this migration: the entity's first-seen ones since its creation, the others since they were
-- first seen (the best bound known).
ALTER TABLE ops.pinterest_entity_names ADD COLUMN held_since timestamptz;
UPDATE ops.pinterest_entity_names AS names
SET held_since = CASE WHEN names.first_seen_at = first.first_seen_at
                      THEN COALESCE(entity.created_time, '-infinity') ELSE names.first_seen_at END
FROM (
    SELECT level, entity_id, min(first_seen_at) AS first_seen_at
    FROM ops.pinterest_entity_names GROUP BY level, entity_id
) AS first
LEFT JOIN (
    SELECT 'campaign' AS level, campaign_id AS entity_id, created_time FROM raw.pinterest_campaigns
    UNION ALL SELECT 'ad_group', ad_group_id, created_time FROM raw.pinterest_ad_groups
    UNION ALL SELECT 'ad', ad_id, created_time FROM raw.pinterest_ads
) AS entity USING (level, entity_id)
WHERE first.level = names.level AND first.entity_id = names.entity_id;
ALTER TABLE ops.pinterest_entity_names ALTER COLUMN held_since SET NOT NULL;
