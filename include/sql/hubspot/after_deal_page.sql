-- Run in the transaction of every loaded page of deals, after their upsert; %(deal_ids)s = the page's deal ids,
-- %(predecessors_gone)s = the live deals the page's deals succeed that HubSpot no longer has (predecessors.sql).
-- Stable keys (docs/hubspot.md): aliases `hubspot:<id>` and `legacy:<legacy id>`, keys `hubspot:<id>`.
-- "Live" = not archived, not merged into another deal, not found deleted.

-- 0. A deal a page deal's legacy id names, which HubSpot no longer has, was re-created (a CRM migration): it is
--    gone now, not at the next sweep, so its successor takes its lineage in step 3 (or, keyed before, in
--    rekey_after_sweep.sql) and no reconcile counts the sale twice.
UPDATE raw.hubspot_deals
SET deleted_at = now(), loaded_at = now(), run_id = current_setting('pin2deal.run_id', true)
WHERE deal_id = ANY(%(predecessors_gone)s::bigint[]) AND deleted_at IS NULL;

-- 1. A deal listed in a page deal's hs_merged_object_ids was merged into it: mark it (never delete it).
UPDATE raw.hubspot_deals AS merged
SET merged_into_deal_id = survivor.deal_id
FROM raw.hubspot_deals AS survivor
WHERE survivor.deal_id = ANY(%(deal_ids)s)
  AND merged.deal_id = ANY(survivor.merged_object_ids)
  AND merged.deal_id <> survivor.deal_id
  AND merged.merged_into_deal_id IS DISTINCT FROM survivor.deal_id;

-- 2. A deal seen for the first time without links keys itself. Deals without links go first, so a deal and its
--    successor in one page still chain.
INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id)
SELECT 'hubspot:' || deal.deal_id, 'hubspot:' || deal.deal_id, 'self', deal.deal_id
FROM raw.hubspot_deals AS deal
WHERE deal.deal_id = ANY(%(deal_ids)s)
  AND deal.legacy_deal_id IS NULL
  AND cardinality(deal.merged_object_ids) = 0
ON CONFLICT (alias_id) DO NOTHING;

-- 3. Otherwise it inherits the key of its legacy id (`legacy:` alias; a numeric legacy id is also the deal's
--    previous HubSpot id, a re-import or migration: `hubspot:` alias), else of the earliest-known deal merged into
--    it, unless a live deal other than itself already holds that key (a clone carrying the same legacy id, which
--    HubSpot still has): then it keys itself, and step 6 reports it.
INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id)
SELECT 'hubspot:' || deal.deal_id,
       CASE WHEN holder.deal_id IS NULL THEN COALESCE(inherited.stable_key, 'hubspot:' || deal.deal_id)
            ELSE 'hubspot:' || deal.deal_id END,
       'self', deal.deal_id
FROM raw.hubspot_deals AS deal
CROSS JOIN LATERAL (
    SELECT COALESCE(
        raw.legacy_lineage_key(deal.legacy_deal_id, NULL),
        (SELECT known.stable_key FROM raw.hubspot_deal_ids AS known
         WHERE known.alias_id = ANY(ARRAY(SELECT 'hubspot:' || merged_id FROM unnest(deal.merged_object_ids) AS merged_id))
         ORDER BY known.first_seen_at, known.alias_id LIMIT 1)
    ) AS stable_key
) AS inherited
LEFT JOIN LATERAL (
    SELECT other.deal_id
    FROM raw.hubspot_deal_ids AS other
    JOIN raw.hubspot_deals AS live ON live.deal_id = other.deal_id
    WHERE other.via = 'self' AND other.stable_key = inherited.stable_key AND other.deal_id <> deal.deal_id
      AND NOT live.archived AND live.merged_into_deal_id IS NULL AND live.deleted_at IS NULL
    LIMIT 1
) AS holder ON true
WHERE deal.deal_id = ANY(%(deal_ids)s)
  AND NOT EXISTS (SELECT 1 FROM raw.hubspot_deal_ids AS keyed WHERE keyed.alias_id = 'hubspot:' || deal.deal_id)
ON CONFLICT (alias_id) DO NOTHING;

-- 4. A merge of two known deals: the survivor keeps its key; the merged deal's lineage (its own id and every
--    alias of its key) becomes an alias of the survivor's key. Never a lineage another live deal still holds (one
--    key, one live deal): a deal re-created by a migration still lists the ids merged into its old self, whose
--    lineage it succeeds once the old deal is gone (refused in step 3, it takes the key after the sweep:
--    rekey_after_sweep.sql).
UPDATE raw.hubspot_deal_ids AS ids
SET stable_key = absorbed.survivor_key
FROM (
    SELECT DISTINCT ON (merged.stable_key) merged.stable_key AS merged_key, own.stable_key AS survivor_key
    FROM raw.hubspot_deals AS survivor
    JOIN raw.hubspot_deal_ids AS own ON own.alias_id = 'hubspot:' || survivor.deal_id
    -- unnest, then join by key: an ANY(subquery) join condition is evaluated for every (page deal, id) pair, a
    -- scan of the whole id map per page (58 s a page at 44,000 ids)
    CROSS JOIN LATERAL unnest(survivor.merged_object_ids) AS merged_id
    JOIN raw.hubspot_deal_ids AS merged ON merged.alias_id = 'hubspot:' || merged_id
    WHERE survivor.deal_id = ANY(%(deal_ids)s) AND merged.stable_key <> own.stable_key
      AND NOT EXISTS (
          SELECT 1
          FROM raw.hubspot_deal_ids AS held
          JOIN raw.hubspot_deals AS holder ON holder.deal_id = held.deal_id
          WHERE held.via = 'self' AND held.stable_key = merged.stable_key AND held.deal_id <> survivor.deal_id
            AND NOT holder.archived AND holder.merged_into_deal_id IS NULL AND holder.deleted_at IS NULL
      )
    ORDER BY merged.stable_key, survivor.deal_id
) AS absorbed
WHERE ids.stable_key = absorbed.merged_key;

-- 5. The legacy id and the merged ids become aliases of the deal's key; an alias already known keeps its key.
INSERT INTO raw.hubspot_deal_ids (alias_id, stable_key, via, deal_id)
SELECT alias.alias_id, own.stable_key, alias.via, deal.deal_id
FROM raw.hubspot_deals AS deal
JOIN raw.hubspot_deal_ids AS own ON own.alias_id = 'hubspot:' || deal.deal_id
CROSS JOIN LATERAL (
    SELECT 'legacy:' || deal.legacy_deal_id, 'legacy' WHERE deal.legacy_deal_id IS NOT NULL
    UNION ALL
    SELECT 'hubspot:' || merged_id, 'merged' FROM unnest(deal.merged_object_ids) AS merged_id
    WHERE merged_id <> deal.deal_id
) AS alias (alias_id, via)
WHERE deal.deal_id = ANY(%(deal_ids)s)
ON CONFLICT (alias_id) DO NOTHING;

-- 6. Report a legacy id whose key a live deal other than this one holds (refused in step 3, or a clone loaded in
--    the same page): both deals are named. The report is re-decided on every load of the deal.
DELETE FROM ops.record_issues WHERE source = 'hubspot.deal_key' AND record_key = ANY(%(deal_ids)s::text[]);
INSERT INTO ops.record_issues (source, record_key, field, reason, raw_value, run_id)
SELECT 'hubspot.deal_key', deal.deal_id::text, 'legacy_deal_id',
       format('legacy id already keys live deal %%s (stable key %%s): deal %%s keeps its own key %%s',
              holder.deal_id, legacy.stable_key, deal.deal_id, own.stable_key),
       deal.legacy_deal_id, current_setting('pin2deal.run_id', true)
FROM raw.hubspot_deals AS deal
JOIN raw.hubspot_deal_ids AS own ON own.alias_id = 'hubspot:' || deal.deal_id
CROSS JOIN LATERAL raw.legacy_lineage_key(deal.legacy_deal_id, own.stable_key) AS legacy (stable_key)
JOIN LATERAL (
    SELECT other.deal_id
    FROM raw.hubspot_deal_ids AS other
    JOIN raw.hubspot_deals AS live ON live.deal_id = other.deal_id
    WHERE other.via = 'self' AND other.stable_key = legacy.stable_key AND other.deal_id <> deal.deal_id
      AND NOT live.archived AND live.merged_into_deal_id IS NULL AND live.deleted_at IS NULL
    ORDER BY other.deal_id
    LIMIT 1
) AS holder ON true
WHERE deal.deal_id = ANY(%(deal_ids)s) AND legacy.stable_key IS NOT NULL
ON CONFLICT DO NOTHING;
