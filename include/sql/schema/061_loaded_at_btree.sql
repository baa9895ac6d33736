-- The incremental reconcile, its duplicate-key check and the Conversions API fill read the HubSpot rows loaded since
-- their last run. 022 and 045 indexed loaded_at with BRIN, on the premise that loads append row versions in
-- loaded_at order. Loads are upserts: a re-loaded deal's new version goes wherever a page has room, so after the
-- first re-loads every block range spans old and new times and the BRIN scan reads the whole table (measured at
-- 1,000,000 deals with 10,000 re-loaded: 25,288 lossy blocks, 0.32 s, against 0.01 s through a B-tree). A B-tree
-- costs the loads one index entry per row, which the upsert's new version costs anyway (loaded_at changes on each).
DROP INDEX raw.hubspot_deals_loaded_at;
CREATE INDEX hubspot_deals_loaded_at ON raw.hubspot_deals (loaded_at);
DROP INDEX raw.hubspot_deal_contacts_loaded_at;
CREATE INDEX hubspot_deal_contacts_loaded_at ON raw.hubspot_deal_contacts (loaded_at);
DROP INDEX raw.hubspot_contacts_loaded_at;
CREATE INDEX hubspot_contacts_loaded_at ON raw.hubspot_contacts (loaded_at);
