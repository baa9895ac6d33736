-- The re-pulled days' spend: an incremental reconcile_spend and the performance step read raw.pinterest_ad_daily by
-- date range (a few days of every ad); without an index on the day that is a scan of every ad's whole history
-- (~0.45 s per read at 3,150,000 ad days, twice per run).
CREATE INDEX pinterest_ad_daily_date ON raw.pinterest_ad_daily (date);
