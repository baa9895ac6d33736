-- The ad accounts the briefing covers: their currency and the time zone that defines their days.
SELECT ad_account_id, name, currency, timezone
FROM raw.pinterest_ad_accounts
ORDER BY ad_account_id;
