-- The newest account day with spend in the marts: the default end of the page's period.
SELECT max(period_start) FROM mart.performance WHERE model = 'last_touch' AND grain = 'account' AND period = 'day'
  AND spend > 0;
