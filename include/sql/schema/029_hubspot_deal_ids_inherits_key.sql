-- Whether a deal's stable key is inherited (not its own id): a column of its own has statistics, so the planner
-- knows how few such rows there are (for the expression of 025's partial index it assumed nearly every row, and the
-- lead rule hashed every key and every deal to find a handful of lineages).
ALTER TABLE raw.hubspot_deal_ids
    ADD COLUMN inherits_key boolean GENERATED ALWAYS AS (stable_key <> 'hubspot:' || deal_id::text) STORED;
DROP INDEX raw.hubspot_deal_ids_inherited_keys;
CREATE INDEX hubspot_deal_ids_inherited_keys ON raw.hubspot_deal_ids (stable_key) WHERE via = 'self' AND inherits_key;
