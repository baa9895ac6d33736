-- Rule: what a counted Pinterest deal adds to mart.performance, per grain and period. A Pinterest-paid deal is a
-- lead of each grain it resolved to (and of its ad account, resolved or not) in the period of its lead day, and a
-- won deal with its revenue (home currency) in the period of its won day. Won Pinterest deals, paid and organic,
-- with and without an epik, feed the truth-vs-platform comparison. Unresolved levels add nothing to their grain.
CREATE OR REPLACE VIEW mart.deal_contributions AS
SELECT deal.stable_key, grain.grain, grain.grain_id, deal.report_account_id AS ad_account_id, grain.campaign_id,
       grain.ad_group_id, grain.ad_id, periods.period, event.period_start, event.leads, event.won, event.revenue,
       event.leads_won_to_date, event.pinterest_won, event.pinterest_won_with_epik
FROM mart.deal_attribution AS deal
CROSS JOIN LATERAL (
    VALUES ('account', deal.report_account_id, NULL, NULL, NULL),
           ('campaign', deal.campaign_id, deal.campaign_id, NULL, NULL),
           ('ad_group', deal.ad_group_id, deal.campaign_id, deal.ad_group_id, NULL),
           ('ad', deal.ad_id, deal.campaign_id, deal.ad_group_id, deal.ad_id)
) AS grain (grain, grain_id, campaign_id, ad_group_id, ad_id)
CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS periods (period)
CROSS JOIN LATERAL (
    SELECT deal.channel = 'pinterest_paid' AS paid
) AS kind
CROSS JOIN LATERAL (
    VALUES (mart.period_start(periods.period, deal.lead_day), kind.paid::integer, 0, 0::numeric,
            (kind.paid AND deal.is_won)::integer, 0, 0),
           (mart.period_start(periods.period, deal.won_day), 0, kind.paid::integer,
            CASE WHEN kind.paid THEN COALESCE(deal.amount_home, 0) ELSE 0 END, 0, 1, (deal.epik IS NOT NULL)::integer)
) AS event (period_start, leads, won, revenue, leads_won_to_date, pinterest_won, pinterest_won_with_epik)
WHERE deal.channel IN ('pinterest_paid', 'pinterest_organic')
  AND grain.grain_id IS NOT NULL
  AND event.period_start IS NOT NULL
  AND event.leads + event.won + event.leads_won_to_date + event.pinterest_won > 0;
