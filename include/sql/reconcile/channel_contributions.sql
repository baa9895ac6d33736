-- Rule: what a counted deal adds to mart.channel_performance: a lead on its lead day and, when won, a won deal with
-- its revenue (home currency) on its won day, for its channel_name (both Pinterest channels as 'pinterest'). Deals
-- of no known channel count nowhere. mart.channel_performance sums these per channel and period.
CREATE OR REPLACE VIEW mart.deal_channel_contributions AS
SELECT deal.stable_key, deal.channel_name, event.day, event.leads, event.won, event.revenue
FROM mart.deal_attribution AS deal
CROSS JOIN LATERAL (
    VALUES (deal.lead_day, 1, 0, 0::numeric),
           (deal.won_day, 0, 1, COALESCE(deal.amount_home, 0))
) AS event (day, leads, won, revenue)
WHERE deal.channel_name IS NOT NULL AND event.day IS NOT NULL;
