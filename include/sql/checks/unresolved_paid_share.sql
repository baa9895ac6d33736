-- Blocking above a threshold, in publish_marts before it publishes: Pinterest-paid deals whose campaign does not
-- resolve count only at the account level; when their share of paid deals exceeds params.max_unresolved_paid_share,
-- CAC per campaign is not trustworthy. The share is the generation's about to be published, from the counts
-- publish_marts keeps (reconcile_published_deals: a rebuild counts its deals, an incremental run moves the
-- published counts by the deals it changed). Fails with the share and the first unresolved deals (stable key and
-- utm_campaign), which are looked up only then.
{% set limit = params.max_unresolved_paid_share | float %}
SELECT totals.unresolved_paid_deals <= {{ limit }} * totals.paid_deals AS passed,
       totals.unresolved_paid_deals || ' of ' || totals.paid_deals || ' paid deals unresolved: '
       || CASE WHEN totals.unresolved_paid_deals > {{ limit }} * totals.paid_deals THEN (
              SELECT COALESCE(string_agg(sample.stable_key || ' utm_campaign=' || COALESCE(sample.utm_campaign, 'NULL'),
                                         ', ' ORDER BY sample.stable_key), 'none')
              FROM (
                  SELECT deal.stable_key, deal.utm_campaign FROM mart.deal_attribution AS deal
                  WHERE deal.channel = 'pinterest_paid' AND deal.campaign_resolved_by = 'unresolved'
                  ORDER BY deal.stable_key
                  LIMIT 20
              ) AS sample
          ) ELSE 'within the limit' END AS offending
FROM reconcile_published_deals AS totals
