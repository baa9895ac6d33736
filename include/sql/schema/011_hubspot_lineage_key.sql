-- The lineage a deal's legacy id points at, in one place (after_deal_page.sql and rekey_after_sweep.sql use it):
-- the key of its `legacy:` alias, else, for a numeric legacy id, of `hubspot:<legacy id>` (the deal's previous
-- HubSpot id: a re-import or a migration that re-created the deal), ignoring the deal's own key (own_key; NULL
-- for a deal not keyed yet). NULL when the legacy id points at no other lineage.
CREATE FUNCTION raw.legacy_lineage_key(legacy_id text, own_key text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT ids.stable_key
    FROM raw.hubspot_deal_ids AS ids
    WHERE (ids.alias_id = 'legacy:' || legacy_id
           OR (legacy_id ~ '^[0-9]+$' AND ids.alias_id = 'hubspot:' || legacy_id))
      AND ids.stable_key IS DISTINCT FROM own_key
    ORDER BY ids.alias_id LIKE 'legacy:%' DESC
    LIMIT 1
$$;
