-- How far the raw data reaches: the newest spend day, the week's provisional days, the newest deal change.
SELECT (SELECT max(date) FROM raw.pinterest_ad_daily WHERE spend IS NOT NULL) AS newest_spend_day,
       (SELECT coalesce(array_agg(DISTINCT date ORDER BY date), '{}')
          FROM raw.pinterest_ad_daily
         WHERE provisional AND date BETWEEN %(week_first)s AND %(last)s) AS provisional_days,
       (SELECT max(modified_at) FROM raw.hubspot_deals) AS newest_deal_change,
       (SELECT count(*) FROM raw.hubspot_deals) AS deals_loaded;
