-- Rule: lead. A deal is a lead of the day its lineage was created: the earliest createdate among the deal itself,
-- every deal merged into it (directly or through a chain of merges) and every earlier id of the same stable key
-- (a CRM migration's predecessor). So a merged survivor carries the history of the deals it absorbed.
CREATE OR REPLACE VIEW mart.deal_lead AS
WITH RECURSIVE absorbed (survivor_id, member_id) AS (
    SELECT merged.merged_into_deal_id, merged.deal_id
    FROM raw.hubspot_deals AS merged
    WHERE merged.merged_into_deal_id IS NOT NULL
    UNION
    SELECT parent.merged_into_deal_id, absorbed.member_id
    FROM absorbed
    JOIN raw.hubspot_deals AS parent ON parent.deal_id = absorbed.survivor_id
    WHERE parent.merged_into_deal_id IS NOT NULL
),
-- Keys two deals share: at most one of them is the key's own first deal, so the other one inherits it (a narrow
-- partial index lists those rows, migration 029: no scan or count of every key).
shared_keys AS (
    SELECT DISTINCT ids.stable_key
    FROM raw.hubspot_deal_ids AS ids
    WHERE ids.via = 'self' AND ids.inherits_key
),
predecessors (survivor_id, member_id) AS (
    SELECT own.deal_id, other.deal_id
    FROM shared_keys
    JOIN raw.hubspot_deal_ids AS own ON own.stable_key = shared_keys.stable_key AND own.via = 'self'
    JOIN raw.hubspot_deal_ids AS other ON other.stable_key = shared_keys.stable_key AND other.via = 'self'
    WHERE other.deal_id <> own.deal_id
),
lineage AS (
    SELECT members.survivor_id, min(member.created_at) AS created_at, count(DISTINCT members.member_id) AS deals
    FROM (SELECT * FROM absorbed UNION SELECT * FROM predecessors) AS members
    JOIN raw.hubspot_deals AS member ON member.deal_id = members.member_id
    GROUP BY members.survivor_id
)
SELECT deal.deal_id,
       CASE WHEN lineage.created_at < deal.created_at THEN lineage.created_at ELSE deal.created_at END AS lead_at,
       1 + COALESCE(lineage.deals, 0)::integer AS lineage_deal_count
FROM raw.hubspot_deals AS deal
LEFT JOIN lineage ON lineage.survivor_id = deal.deal_id;
