-- Run in the transaction of every loaded page of deals, after their upsert; %(deal_ids)s = the page's deal ids.

-- 1. A deal listed in a page deal's hs_merged_object_ids was merged into it: mark it (never delete it).
UPDATE raw.hubspot_deals AS merged
SET merged_into_deal_id = survivor.deal_id
FROM raw.hubspot_deals AS survivor
WHERE survivor.deal_id = ANY(%(deal_ids)s)
  AND merged.deal_id = ANY(survivor.merged_object_ids)
  AND merged.deal_id <> survivor.deal_id
  AND merged.merged_into_deal_id IS DISTINCT FROM survivor.deal_id;

-- 2. Stable keys (the id map). A deal seen for the first time takes the key of its legacy_deal_id, else of the
--    earliest-known deal merged into it, else its own id. Deals without such links go first, so a deal and its
--    successor in one page still chain.
INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id)
SELECT deal.deal_id::text, deal.deal_id::text, 'self', deal.deal_id
FROM raw.hubspot_deals AS deal
WHERE deal.deal_id = ANY(%(deal_ids)s)
  AND deal.legacy_deal_id IS NULL
  AND cardinality(deal.merged_object_ids) = 0
ON CONFLICT (alias_id) DO NOTHING;

INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id)
SELECT deal.deal_id::text, COALESCE(legacy.stable_key, merged.stable_key, deal.deal_id::text), 'self', deal.deal_id
FROM raw.hubspot_deals AS deal
LEFT JOIN raw.hubspot_deal_ids AS legacy ON legacy.alias_id = deal.legacy_deal_id
LEFT JOIN LATERAL (
    SELECT known.stable_key
    FROM raw.hubspot_deal_ids AS known
    WHERE known.alias_id = ANY(deal.merged_object_ids::text[])
    ORDER BY known.first_seen_at, known.alias_id
    LIMIT 1
) AS merged ON true
WHERE deal.deal_id = ANY(%(deal_ids)s)
ON CONFLICT (alias_id) DO NOTHING;

-- 3. The legacy id and the merged ids become aliases of the deal's key; an alias already known keeps its key.
INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id)
SELECT alias.alias_id, own.stable_key, alias.via, deal.deal_id
FROM raw.hubspot_deals AS deal
JOIN raw.hubspot_deal_ids AS own ON own.alias_id = deal.deal_id::text
CROSS JOIN LATERAL (
    SELECT deal.legacy_deal_id, 'legacy' WHERE deal.legacy_deal_id IS NOT NULL
    UNION ALL
    SELECT merged_id::text, 'merged' FROM unnest(deal.merged_object_ids) AS merged_id WHERE merged_id <> deal.deal_id
) AS alias (alias_id, via)
WHERE deal.deal_id = ANY(%(deal_ids)s)
ON CONFLICT (alias_id) DO NOTHING;
