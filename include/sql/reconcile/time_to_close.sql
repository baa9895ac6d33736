-- Rule: time to close = won time - lead time (of the lineage's first deal), per won deal; summarised per grain and
-- won period as the median and 75th percentile of the Pinterest-paid deals won in it.
CREATE OR REPLACE VIEW mart.time_to_close AS
SELECT contribution.grain, contribution.grain_id, contribution.period, contribution.period_start,
       count(*)::integer AS won,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY deal.time_to_close) AS median,
       percentile_cont(0.75) WITHIN GROUP (ORDER BY deal.time_to_close) AS p75
FROM mart.deal_contributions AS contribution
JOIN mart.deal_attribution AS deal ON deal.stable_key = contribution.stable_key
WHERE contribution.won = 1
GROUP BY contribution.grain, contribution.grain_id, contribution.period, contribution.period_start;
