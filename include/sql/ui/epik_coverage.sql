-- epik coverage of won Pinterest deals over the weeks starting in [first, last]: the account-level rows of
-- mart.truth_vs_platform (campaign_id NULL).
SELECT sum(crm_won_with_epik) AS won_with_epik,
       sum(crm_won)           AS won,
       sum(crm_won_with_epik)::numeric / nullif(sum(crm_won), 0) AS coverage
FROM mart.truth_vs_platform
WHERE campaign_id IS NULL AND week_start BETWEEN %(first)s AND %(last)s;
