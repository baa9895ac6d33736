-- Warning: won deals with neither a closed-won stage entry time nor a closedate count as won but in no period.
SELECT deal.stable_key, deal.deal_id, deal.pipeline, deal.dealstage
FROM mart.deal_attribution AS deal
WHERE deal.is_won AND deal.won_at IS NULL
ORDER BY deal.stable_key;
