-- The campaigns with a stage funnel in the months that overlap the days [first, last], most entries first: the
-- funnel part's choice (mart.funnel, docs/data-model.md).
SELECT grain_id AS campaign_id, max(name) AS name, sum(entered) AS entered
FROM mart.funnel
WHERE grain = 'campaign' AND period = 'month' AND period_start <= %(last)s AND period_end > %(first)s
GROUP BY grain_id
ORDER BY sum(entered) DESC, grain_id;
