-- Daily rows of the account, campaigns and ads over the chart's 8 weeks (the windows are summed in pandas).
SELECT grain, grain_id, ad_account_id, campaign_id, ad_id, name, period_start AS day,
       spend, spend_currency, leads, won, revenue, revenue_currency
FROM mart.performance
WHERE model = 'last_touch'  -- the briefing's model; the touch line compares it with the first (touch_models.sql)
  AND period = 'day'
  AND grain IN ('account', 'campaign', 'ad')
  AND period_start BETWEEN %(first)s AND %(last)s;
