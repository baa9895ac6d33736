-- Rule: the touches a deal counts under each touch model (docs/attribution.md, "Touch models"). A deal whose first
-- touch is its last (no first-touch values of its own that differ: first_touch_differs false) has one touch, counted
-- under both models; a deal whose first touch differs has two, each counted under its own model. So the marts sum
-- the deals once and add, for the first touch, only the differing deals' difference. `models` lists the models a
-- touch counts under; report_account_id is the ad account whose days it counts in (a Pinterest touch's); epik is the
-- touch's own click id (the first touch's is first_touch_epik).
CREATE OR REPLACE VIEW mart.deal_model_touches AS
SELECT deal.stable_key, touch.models, touch.channel, touch.channel_name, touch.report_account_id, touch.campaign_id,
       touch.ad_group_id, touch.ad_id, touch.epik, deal.is_won, deal.stage_closed, deal.stage_probability,
       deal.amount_home, deal.lead_day, deal.won_day
FROM mart.deal_attribution AS deal
CROSS JOIN LATERAL (
    VALUES (CASE WHEN deal.first_touch_differs THEN '{last_touch}' ELSE '{last_touch,first_touch}' END::text[],
            deal.channel, deal.channel_name, deal.report_account_id, deal.campaign_id, deal.ad_group_id, deal.ad_id,
            deal.epik),
           (CASE WHEN deal.first_touch_differs THEN '{first_touch}' END::text[], deal.first_touch_channel,
            deal.first_touch_channel_name, deal.first_touch_report_account_id, deal.first_touch_campaign_id,
            deal.first_touch_ad_group_id, deal.first_touch_ad_id, deal.first_touch_epik)
) AS touch (models, channel, channel_name, report_account_id, campaign_id, ad_group_id, ad_id, epik)
WHERE touch.models IS NOT NULL;

-- Rule: what a counted Pinterest deal adds to mart.performance under a touch model. A deal whose touch is
-- Pinterest-paid is a lead on its lead day and, when won, a won deal with its revenue (home currency) on its won day,
-- for the touch's ad account (resolved or not) and for each of its campaign, ad group and ad that resolved; a lead won
-- by now also counts for its lead day's cohort, and a lead still open (neither won nor lost) adds its expected win and
-- expected revenue (amount x probability) there, by the forecast rule (forecast.sql; an open lead whose stage has no
-- probability is counted apart). Won Pinterest deals, paid and organic, with and without an epik, feed the
-- truth-vs-platform comparison. The days are the deal's under both models.
-- mart.performance sums these per model, grain and period (days, then weeks and months from the days).
CREATE OR REPLACE VIEW mart.deal_contributions AS
SELECT deal.stable_key, deal.report_account_id AS ad_account_id, deal.campaign_id, deal.ad_group_id, deal.ad_id,
       event.day, event.leads, event.won, event.revenue, event.leads_won_to_date, event.pinterest_won,
       event.pinterest_won_with_epik, event.leads_open, event.leads_expected_wins, event.leads_expected_revenue,
       event.leads_open_without_probability, deal.models
FROM mart.deal_model_touches AS deal
CROSS JOIN LATERAL (SELECT deal.channel = 'pinterest_paid' AS paid) AS kind
CROSS JOIN LATERAL (
    SELECT kind.paid AND mart.deal_is_open(deal.is_won, deal.stage_closed) AS open,
           mart.expected_win(deal.is_won, deal.stage_closed, deal.stage_probability) AS expected
) AS forecast
CROSS JOIN LATERAL (
    VALUES (deal.lead_day, kind.paid::integer, 0, 0::numeric, (kind.paid AND deal.is_won)::integer, 0, 0,
            forecast.open::integer, CASE WHEN forecast.open THEN COALESCE(forecast.expected, 0) ELSE 0 END,
            CASE WHEN forecast.open THEN COALESCE(deal.amount_home, 0) * COALESCE(forecast.expected, 0) ELSE 0 END,
            (forecast.open AND forecast.expected IS NULL)::integer),
           (deal.won_day, 0, kind.paid::integer, CASE WHEN kind.paid THEN COALESCE(deal.amount_home, 0) ELSE 0 END,
            0, 1, (deal.epik IS NOT NULL)::integer, 0, 0, 0, 0)
) AS event (day, leads, won, revenue, leads_won_to_date, pinterest_won, pinterest_won_with_epik, leads_open,
            leads_expected_wins, leads_expected_revenue, leads_open_without_probability)
WHERE deal.channel IN ('pinterest_paid', 'pinterest_organic')
  AND deal.report_account_id IS NOT NULL
  AND event.day IS NOT NULL
  AND event.leads + event.won + event.leads_won_to_date + event.pinterest_won > 0;
