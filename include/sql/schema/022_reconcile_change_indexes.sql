-- The incremental reconcile reads the raw rows loaded since its last run. BRIN indexes on loaded_at find them
-- without scanning the tables (loads append new row versions, so loaded_at follows the physical order) and cost
-- the loads next to nothing (a few pages per table, unlike a B-tree updated on every row).
CREATE INDEX hubspot_deals_loaded_at ON raw.hubspot_deals USING brin (loaded_at);
CREATE INDEX hubspot_deal_contacts_loaded_at ON raw.hubspot_deal_contacts USING brin (loaded_at);
CREATE INDEX pinterest_ad_daily_loaded_at ON raw.pinterest_ad_daily USING brin (loaded_at);
