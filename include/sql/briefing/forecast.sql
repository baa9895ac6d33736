-- Campaigns still in their cycle: those whose first day with spend is fewer than %(young_days)s days before the
-- briefing day (the day included). Their days up to the briefing day summed: spend, the leads won by now, the open
-- leads, their expected wins, those without a probability, and the forecast CAC by the reconcile's rule
-- (mart.forecast_cac, include/sql/reconcile/forecast.sql). As of the published marts: "won by now", "open now".
SELECT grain_id AS campaign_id, min(ad_account_id) AS ad_account_id,
       (array_agg(name ORDER BY period_start DESC) FILTER (WHERE name IS NOT NULL))[1] AS name,
       min(period_start) FILTER (WHERE spend > 0) AS first_spend_day,
       sum(spend) AS spend, min(spend_currency) AS spend_currency, sum(leads) AS leads,
       sum(leads_won_to_date) AS won, sum(leads_open) AS open_deals, sum(leads_expected_wins) AS expected_wins,
       sum(leads_open_without_probability) AS open_without_probability,
       mart.forecast_cac(sum(spend), sum(leads_won_to_date), sum(leads_expected_wins),
                         sum(leads_open_without_probability)) AS forecast_cac
FROM mart.performance
WHERE model = 'last_touch' AND grain = 'campaign' AND period = 'day' AND period_start <= %(last)s
GROUP BY grain_id
HAVING min(period_start) FILTER (WHERE spend > 0) > %(last)s::date - %(young_days)s::integer
   AND bool_and(leads_open IS NOT NULL);  -- rows published before migration 082 have no forecast: no line
