-- Deals whose stable key is not their own id (they inherited it from a CRM predecessor or a merge): the only keys
-- two deals can share, so the lead rule (include/sql/reconcile/lead.sql) finds a lineage's earlier ids here instead
-- of counting every key.
CREATE INDEX hubspot_deal_ids_inherited_keys ON raw.hubspot_deal_ids (stable_key)
    WHERE via = 'self' AND stable_key <> 'hubspot:' || deal_id::text;
