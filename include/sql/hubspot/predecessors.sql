-- The live deals a page's deals may succeed (docs/hubspot.md, "The stable key", rule 2): for each page deal with a
-- legacy id, the live deals holding the lineage that id names (raw.legacy_lineage_key: its `legacy:` alias, or the
-- deal's previous HubSpot id), itself and the page's deals aside (a deal read in this page exists). The loader asks
-- HubSpot whether they still exist before the page lands: one gone was re-created (a CRM migration): it is marked
-- deleted and its successor takes the lineage (after_deal_page.sql, step 0); one still there is a clone.
-- %(deal_ids)s = the page's deal ids; %(legacy_deal_ids)s, %(legacy_ids)s = its deals with a legacy id, aligned.
SELECT DISTINCT holder.deal_id
FROM unnest(%(legacy_deal_ids)s::bigint[], %(legacy_ids)s::text[]) AS page (deal_id, legacy_deal_id)
LEFT JOIN raw.hubspot_deal_ids AS own ON own.alias_id = 'hubspot:' || page.deal_id
CROSS JOIN LATERAL raw.legacy_lineage_key(page.legacy_deal_id, own.stable_key) AS lineage (stable_key)
JOIN raw.hubspot_deal_ids AS held ON held.via = 'self' AND held.stable_key = lineage.stable_key
JOIN raw.hubspot_deals AS holder ON holder.deal_id = held.deal_id
WHERE holder.deal_id <> ALL(%(deal_ids)s::bigint[])
  AND NOT holder.archived AND holder.merged_into_deal_id IS NULL AND holder.deleted_at IS NULL
ORDER BY holder.deal_id
