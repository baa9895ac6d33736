-- The account's typical time to close: the median days from lead to win of the Pinterest-paid deals won in the days
-- [first, last] (mart.deal_time_to_close: the deals CAC counts). A campaign that has been spending for fewer days is
-- still in its cycle: the briefing judges it by its forecast CAC.
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM time_to_close) / 86400.0) AS median_days
FROM mart.deal_time_to_close
WHERE won_day BETWEEN %(first)s AND %(last)s;
