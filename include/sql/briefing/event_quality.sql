-- Pinterest's Event Quality Score of our Conversions API events as of the briefing (pin2deal.capi.quality): the
-- latest read up to the day after the briefing day (the morning run reads it before it briefs; UTC days, as the read
-- is dated by the API's clock), the 14-day read when both lookbacks were read that day; its rating per source
-- platform. The coverage the briefing gives is its own count of the week's events (capi/match_keys.sql), not this read's.
-- Only run when raw.pinterest_event_quality exists.
WITH latest AS (
    SELECT DISTINCT ON (ad_account_id) ad_account_id, read_day, lookback_period
    FROM raw.pinterest_event_quality
    WHERE read_day <= %(day)s::date + 1 AND ingestion_source = 'CONVERSIONS_API'
    ORDER BY ad_account_id, read_day DESC, lookback_period = '14d' DESC
)
SELECT q.ad_account_id, q.read_day, q.lookback_period, q.source_platform, q.overall_status
FROM latest
JOIN raw.pinterest_event_quality AS q USING (ad_account_id, read_day, lookback_period)
WHERE q.ingestion_source = 'CONVERSIONS_API'
ORDER BY q.ad_account_id, q.source_platform;
