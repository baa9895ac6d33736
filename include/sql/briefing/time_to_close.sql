-- Median time to close (days) per campaign of the deals won in the days [first, last], by the reconcile's rule of
-- which deals count (mart.deal_time_to_close: Pinterest-paid, as mart.time_to_close).
SELECT campaign_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM time_to_close) / 86400.0) AS median_days
FROM mart.deal_time_to_close
WHERE campaign_id IS NOT NULL AND won_day BETWEEN %(first)s AND %(last)s
GROUP BY campaign_id;
