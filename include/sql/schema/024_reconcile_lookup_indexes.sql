-- Lookups of the incremental reconcile for its changed deals: a deal's own stable key (raw.hubspot_deal_ids by
-- deal_id, via 'self') and the deals merged into it. Both partial, so they stay small.
CREATE INDEX hubspot_deal_ids_self_deal_id ON raw.hubspot_deal_ids (deal_id) WHERE via = 'self';
CREATE INDEX hubspot_deals_merged_into ON raw.hubspot_deals (merged_into_deal_id) WHERE merged_into_deal_id IS NOT NULL;
