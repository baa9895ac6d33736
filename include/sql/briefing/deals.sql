-- Pinterest deals created or won in the 28 days: epik coverage, unresolved campaigns.
SELECT channel, campaign_id, campaign_resolved_by, epik IS NOT NULL AS has_epik, is_won, lead_day, won_day
FROM mart.deal_attribution
WHERE channel IN ('pinterest_paid', 'pinterest_organic')
  AND (lead_day BETWEEN %(first)s AND %(last)s OR won_day BETWEEN %(first)s AND %(last)s);
