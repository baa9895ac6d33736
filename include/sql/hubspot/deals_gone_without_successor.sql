-- The deals a listing would mark deleted (temp table listed_deals, as for sweep_deals.sql: live in raw, not
-- listed, first seen before %(started)s), split into those that were re-identified and those that vanished. A gone
-- deal is re-identified when a live deal in the listing holds its lineage: the deal already carries its stable
-- key, or will inherit it (its legacy id, or previous HubSpot id, points at that key: raw.legacy_lineage_key, the
-- rule after_deal_page.sql and rekey_after_sweep.sql apply). A CRM migration that re-creates every deal under a
-- new id vanishes nothing; only deals gone without a successor count against max_deleted_share.
-- Returns one row: (live, reidentified, vanished), live = the deals in raw a listing could mark.
WITH live AS (
    SELECT deal.deal_id,
           NOT EXISTS (SELECT 1 FROM listed_deals AS listed WHERE listed.deal_id = deal.deal_id) AS gone
    FROM raw.hubspot_deals AS deal
    WHERE deal.deleted_at IS NULL AND deal.merged_into_deal_id IS NULL AND deal.first_seen_at < %(started)s
),
gone AS (
    SELECT live.deal_id, own.stable_key
    FROM live
    LEFT JOIN raw.hubspot_deal_ids AS own ON own.deal_id = live.deal_id AND own.via = 'self'
    WHERE live.gone
),
-- The lineages live listed deals point at through their legacy ids: computed once (and only when a deal is gone).
inherited AS MATERIALIZED (
    SELECT DISTINCT lineage.stable_key
    FROM listed_deals AS listed
    JOIN raw.hubspot_deals AS successor ON successor.deal_id = listed.deal_id
    LEFT JOIN raw.hubspot_deal_ids AS own ON own.deal_id = successor.deal_id AND own.via = 'self'
    CROSS JOIN LATERAL raw.legacy_lineage_key(successor.legacy_deal_id, own.stable_key) AS lineage (stable_key)
    WHERE successor.legacy_deal_id IS NOT NULL AND NOT listed.archived AND successor.merged_into_deal_id IS NULL
      AND lineage.stable_key IS NOT NULL
),
verdict AS (
    SELECT gone.deal_id,
           gone.stable_key IS NOT NULL AND (
               gone.stable_key IN (SELECT stable_key FROM inherited)  -- one hashed set, not a scan per deal
               OR EXISTS (
                   SELECT 1
                   FROM raw.hubspot_deal_ids AS other
                   JOIN listed_deals AS listed ON listed.deal_id = other.deal_id
                   JOIN raw.hubspot_deals AS holder ON holder.deal_id = other.deal_id
                   WHERE other.via = 'self' AND other.stable_key = gone.stable_key AND other.deal_id <> gone.deal_id
                     AND NOT listed.archived AND holder.merged_into_deal_id IS NULL
               )
           ) AS reidentified
    FROM gone
)
SELECT (SELECT count(*) FROM live),
       count(*) FILTER (WHERE reidentified),
       count(*) FILTER (WHERE NOT reidentified)
FROM verdict;
