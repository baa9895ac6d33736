-- Rule: time to close = won time - lead time (of the lineage's first deal), per won deal; summarised per grain and
-- won period as the median and 75th percentile of the Pinterest-paid deals won in it.
CREATE OR REPLACE VIEW mart.time_to_close AS
SELECT grain.grain, grain.grain_id, periods.period, mart.period_start(periods.period, deal.won_day) AS period_start,
       count(*)::integer AS won,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY deal.time_to_close) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY deal.time_to_close) AS p75
FROM mart.deal_attribution AS deal
CROSS JOIN LATERAL (
    VALUES ('account', deal.report_account_id), ('campaign', deal.campaign_id), ('ad_group', deal.ad_group_id),
           ('ad', deal.ad_id)
) AS grain (grain, grain_id)
CROSS JOIN (VALUES ('day'), ('week'), ('month')) AS periods (period)
WHERE deal.channel = 'pinterest_paid' AND deal.is_won AND deal.won_day IS NOT NULL AND grain.grain_id IS NOT NULL
GROUP BY grain.grain, grain.grain_id, periods.period, mart.period_start(periods.period, deal.won_day);
