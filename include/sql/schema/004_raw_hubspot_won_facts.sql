-- The won rule moves to SQL (include/sql/reconcile/): raw keeps HubSpot's facts typed, never a decision that
-- depends on stage metadata, so an edited pipeline re-decides every deal on the next reconcile.
--   hs_is_closed_won  HubSpot's own flag, typed (NULL when unset or not a yes/no value, reported)
--   stage_entered_at  every hs_v2_date_entered_<stage id> the deal carries: {"<stage id>": "<ISO 8601 UTC>"}
--   deleted_at        set when HubSpot no longer lists the deal at all (hard-deleted); rows are never deleted
DROP INDEX raw.hubspot_deals_won_at;
ALTER TABLE raw.hubspot_deals RENAME COLUMN is_closed_won TO hs_is_closed_won;
ALTER TABLE raw.hubspot_deals DROP COLUMN won_at;
ALTER TABLE raw.hubspot_deals ADD COLUMN stage_entered_at jsonb NOT NULL DEFAULT '{}';
ALTER TABLE raw.hubspot_deals ADD COLUMN deleted_at timestamptz;
COMMENT ON COLUMN raw.hubspot_deals.hs_is_closed_won IS 'HubSpot''s hs_is_closed_won flag as received (typed); the won rule is in SQL';
COMMENT ON COLUMN raw.hubspot_deals.stage_entered_at IS 'stage id -> entry time (ISO 8601 UTC) from hs_v2_date_entered_<stage id>';
COMMENT ON COLUMN raw.hubspot_deals.deleted_at IS 'when pin2deal found the deal gone from HubSpot (hard-deleted); never physically deleted';
