-- Stable deal keys that cannot collide (issue 8). Aliases carry their namespace: `hubspot:<deal id>` for HubSpot
-- ids (a deal's own id, or an id merged into it), `legacy:<legacy_deal_id>` for ids from before a CRM migration,
-- so a legacy id equal to another deal's HubSpot id is a different alias. Keys are the `hubspot:` alias of the
-- first deal of a lineage. Every deal has exactly one 'self' row (readers join on deal_id AND via = 'self').
UPDATE raw.hubspot_deal_ids
SET alias_id = CASE WHEN via = 'legacy' THEN 'legacy:' ELSE 'hubspot:' END || alias_id,
    stable_key = 'hubspot:' || stable_key;

ALTER TABLE raw.hubspot_deal_ids
    ADD CONSTRAINT hubspot_deal_ids_alias_namespaced CHECK (alias_id ~ '^(hubspot|legacy):.'),
    ADD CONSTRAINT hubspot_deal_ids_key_namespaced CHECK (stable_key ~ '^hubspot:[0-9]+$');
CREATE UNIQUE INDEX hubspot_deal_ids_self ON raw.hubspot_deal_ids (deal_id) WHERE via = 'self';

COMMENT ON COLUMN raw.hubspot_deal_ids.alias_id IS 'hubspot:<deal id> or legacy:<legacy_deal_id>';
COMMENT ON COLUMN raw.hubspot_deal_ids.stable_key IS 'hubspot:<id of the lineage''s first deal>; never held by two live deals';
