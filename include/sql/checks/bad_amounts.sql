-- Warning: counted deals whose amount is negative or not a number (their revenue counts as 0).
SELECT counted.stable_key, deal.deal_id, deal.amount_raw, deal.amount_in_home_currency
FROM mart.counted_deals AS counted
JOIN raw.hubspot_deals AS deal ON deal.deal_id = counted.deal_id
WHERE deal.amount < 0
   OR deal.amount_in_home_currency < 0
   OR (deal.amount IS NULL AND NULLIF(btrim(deal.amount_raw), '') IS NOT NULL)
ORDER BY counted.stable_key;
