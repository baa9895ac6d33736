-- Daily rows of every channel (pinterest and the others) over the chart's 8 weeks; spend NULL = unknown.
SELECT channel_name, period_start AS day, spend, spend_currency, leads, won, revenue, revenue_currency
FROM mart.channel_performance
WHERE model = 'last_touch'
  AND period = 'day'
  AND period_start BETWEEN %(first)s AND %(last)s;
