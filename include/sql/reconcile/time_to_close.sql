-- Rule: time to close = won time - lead time (of the lineage's first deal), counted for the Pinterest-paid won deals
-- only (the deals CAC counts: organic deals cost no spend), per grain. mart.deal_time_to_close is that rule, one row
-- per deal; every time to close shown is summarised from it: mart.time_to_close per grain and won period (median
-- and 75th percentile), the briefing's campaign lines over their week (include/sql/briefing/time_to_close.sql).
CREATE OR REPLACE VIEW mart.deal_time_to_close AS
SELECT deal.stable_key, deal.report_account_id, deal.campaign_id, deal.ad_group_id, deal.ad_id, deal.won_day,
       deal.time_to_close
FROM mart.deal_attribution AS deal
WHERE deal.channel = 'pinterest_paid' AND deal.is_won AND deal.won_day IS NOT NULL;

CREATE OR REPLACE VIEW mart.time_to_close AS
SELECT grain.grain, grain.grain_id, periods.period, mart.period_start(periods.period, deal.won_day) AS period_start,
       count(*)::integer AS won,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY deal.time_to_close) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY deal.time_to_close) AS p75
FROM mart.deal_time_to_close AS deal
CROSS JOIN LATERAL (
    VALUES ('account', deal.report_account_id), ('campaign', deal.campaign_id), ('ad_group', deal.ad_group_id),
           ('ad', deal.ad_id)
) AS grain (grain, grain_id)
CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS periods (period)
WHERE grain.grain_id IS NOT NULL
GROUP BY grain.grain, grain.grain_id, periods.period, mart.period_start(periods.period, deal.won_day);
