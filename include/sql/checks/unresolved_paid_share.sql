-- Blocking above a threshold: Pinterest-paid deals whose campaign does not resolve count only at the account level;
-- when their share of paid deals exceeds params.max_unresolved_paid_share, CAC per campaign is not trustworthy.
-- Fails with the share and the first unresolved deals (stable key and utm_campaign).
WITH paid AS (
    SELECT deal.stable_key, deal.utm_campaign, deal.campaign_resolved_by = 'unresolved' AS unresolved
    FROM mart.deal_attribution AS deal
    WHERE deal.channel = 'pinterest_paid'
)
SELECT COALESCE(avg(paid.unresolved::integer), 0) <= {{ params.max_unresolved_paid_share | float }} AS passed,
       count(*) FILTER (WHERE paid.unresolved) || ' of ' || count(*) || ' paid deals unresolved: '
       || COALESCE((SELECT string_agg(sample.stable_key || ' utm_campaign=' || COALESCE(sample.utm_campaign, 'NULL'), ', ')
                    FROM (SELECT * FROM paid WHERE paid.unresolved ORDER BY paid.stable_key LIMIT 20) AS sample), 'none')
       AS offending
FROM paid;
