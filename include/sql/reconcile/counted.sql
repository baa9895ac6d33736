-- Rule: which deals count. A deal counts when it is live: not archived, not merged into another deal, not deleted
-- from HubSpot. Its stable key is the one its own id maps to (raw.hubspot_deal_ids, via 'self'), whatever the
-- key's format. Counted deals are the only rows of mart.deal_attribution.
CREATE OR REPLACE VIEW mart.counted_deals AS
SELECT deal.deal_id, own.stable_key
FROM raw.hubspot_deals AS deal
JOIN raw.hubspot_deal_ids AS own ON own.deal_id = deal.deal_id AND own.via = 'self'
WHERE NOT deal.archived
  AND deal.merged_into_deal_id IS NULL
  AND deal.deleted_at IS NULL;
