-- Rule: what a counted deal adds to mart.channel_performance under a touch model: a lead on its lead day and, when
-- won, a won deal with its revenue (home currency) on its won day, for its touch's channel_name (both Pinterest
-- channels as 'pinterest'). Deals of no known channel count nowhere. mart.channel_performance sums these per model,
-- channel and period; `models` as in mart.deal_model_touches (contributions.sql).
CREATE OR REPLACE VIEW mart.deal_channel_contributions AS
SELECT deal.stable_key, deal.channel_name, event.day, event.leads, event.won, event.revenue, deal.models
FROM mart.deal_model_touches AS deal
CROSS JOIN LATERAL (
    VALUES (deal.lead_day, 1, 0, 0::numeric),
           (deal.won_day, 0, 1, COALESCE(deal.amount_home, 0))
) AS event (day, leads, won, revenue)
WHERE deal.channel_name IS NOT NULL AND event.day IS NOT NULL;
