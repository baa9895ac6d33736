-- One campaign's stage funnel per month overlapping the days [first, last]: deals entering each stage of each
-- pipeline, advancing to a later stage (conversion rate, median days), lost from it (mart.funnel).
SELECT period_start, pipeline, pipeline_label, stage, stage_label, stage_kind, entered, advanced, conversion_rate,
       median_days_to_advance, lost
FROM mart.funnel
WHERE grain = 'campaign' AND grain_id = %(campaign)s AND period = 'month'
  AND period_start <= %(last)s AND period_end > %(first)s
ORDER BY period_start, pipeline, stage_order, stage;
