-- After deletion marks (the reconciliation's sweep, the one closing a full refresh, or a page whose deals' predecessors
-- HubSpot no longer has: after_deal_page.sql step 0): a deal that was refused its lineage's key because another
-- live deal held it (after_deal_page.sql step 3, reported as `hubspot.deal_key`) inherits the key once no other
-- live deal holds it: the deal a migration or re-import replaced is gone, so the lineage (and the conversions
-- already sent under its key) carries on. Every alias of the refused deal's own key moves with it.
-- %(deal_ids)s: only these deals (a page), or NULL for every deal. Returns one row per re-keyed deal.
WITH refused AS (
    SELECT deal.deal_id, own.stable_key AS own_key, lineage.stable_key AS lineage_key
    FROM raw.hubspot_deals AS deal
    JOIN raw.hubspot_deal_ids AS own ON own.alias_id = 'hubspot:' || deal.deal_id
    CROSS JOIN LATERAL raw.legacy_lineage_key(deal.legacy_deal_id, own.stable_key) AS lineage (stable_key)
    WHERE deal.legacy_deal_id IS NOT NULL AND lineage.stable_key IS NOT NULL
      AND (%(deal_ids)s::bigint[] IS NULL OR deal.deal_id = ANY(%(deal_ids)s::bigint[]))
      AND NOT deal.archived AND deal.merged_into_deal_id IS NULL AND deal.deleted_at IS NULL
      AND own.stable_key = 'hubspot:' || deal.deal_id
      AND NOT EXISTS (
          SELECT 1
          FROM raw.hubspot_deal_ids AS other
          JOIN raw.hubspot_deals AS live ON live.deal_id = other.deal_id
          WHERE other.via = 'self' AND other.stable_key = lineage.stable_key AND other.deal_id <> deal.deal_id
            AND NOT live.archived AND live.merged_into_deal_id IS NULL AND live.deleted_at IS NULL
      )
),
moved AS (
    UPDATE raw.hubspot_deal_ids AS ids
    SET stable_key = refused.lineage_key
    FROM refused
    WHERE ids.stable_key = refused.own_key
    RETURNING refused.deal_id
),
cleared AS (
    DELETE FROM ops.record_issues AS issue
    USING refused
    WHERE issue.source = 'hubspot.deal_key' AND issue.record_key = refused.deal_id::text
)
SELECT DISTINCT deal_id FROM moved;
