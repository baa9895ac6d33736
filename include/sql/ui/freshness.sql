-- How far the raw data reaches: the newest spend day (and its provisional days), the newest deal change.
SELECT (SELECT max(date) FROM raw.pinterest_ad_daily)                       AS newest_spend_day,
       (SELECT count(DISTINCT date) FROM raw.pinterest_ad_daily WHERE provisional) AS provisional_days,
       (SELECT max(loaded_at) FROM raw.pinterest_ad_daily)                  AS spend_loaded_at,
       (SELECT max(modified_at) FROM raw.hubspot_deals)                     AS newest_deal_change,
       (SELECT max(loaded_at) FROM raw.hubspot_deals)                       AS deals_loaded_at,
       (SELECT count(*) FROM raw.hubspot_deals)                             AS deals;
