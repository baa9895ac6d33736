-- CAC per entity of one grain (campaign, ad_group, ad) over the days [first, last]: sums of the daily rows of
-- mart.performance, CAC by the reconcile's rule (mart.cac: a ratio of sums; NULL without a won deal or without
-- spend), ROAS = revenue / spend when both are in one currency. Forecast CAC by the reconcile's rule
-- (mart.forecast_cac): spend / (the days' leads won by now + their open leads' expected wins), NULL when an open lead
-- sits in a stage without a probability.
SELECT grain_id,
       max(name)                                      AS name,
       max(campaign_id)                               AS campaign_id,
       max(ad_group_id)                               AS ad_group_id,
       spend_currency,
       sum(spend)                                     AS spend,
       sum(impressions)                               AS impressions,
       sum(clicks)                                    AS clicks,
       sum(leads)                                     AS leads,
       sum(won)                                       AS won,
       sum(revenue)                                   AS revenue,
       max(revenue_currency)                          AS revenue_currency,
       mart.cac(sum(spend), sum(won))                 AS cac,
       sum(leads_open)                                AS open_deals,
       mart.forecast_cac(sum(spend), sum(leads_won_to_date), sum(leads_expected_wins),
                         sum(leads_open_without_probability)) AS forecast_cac,
       CASE WHEN max(revenue_currency) = spend_currency
            THEN sum(revenue) / nullif(sum(spend), 0) END AS roas
FROM mart.performance
WHERE model = 'last_touch' AND grain = %(grain)s AND period = 'day' AND period_start BETWEEN %(first)s AND %(last)s
GROUP BY grain_id, spend_currency
HAVING sum(spend) > 0 OR sum(leads) > 0 OR sum(won) > 0
ORDER BY sum(spend) DESC NULLS LAST, grain_id;
