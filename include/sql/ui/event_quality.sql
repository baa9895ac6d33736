-- Pinterest's Event Quality Score of our Conversions API events, its latest read (the 14-day one when both
-- lookbacks were read that day): per source platform and event type, Pinterest's issues with the keys the page
-- shows (%(keys)s, their EQS names). The page's coverage is its own count of the events sent (capi/match_keys.sql). raw.pinterest_event_quality* (migration 075), read by pinterest_capi's read_event_quality.
WITH latest AS (
    SELECT DISTINCT ON (ad_account_id) ad_account_id, read_day, lookback_period
    FROM raw.pinterest_event_quality
    WHERE ingestion_source = 'CONVERSIONS_API'
    ORDER BY ad_account_id, read_day DESC, lookback_period = '14d' DESC
)
SELECT q.ad_account_id, q.read_day, q.lookback_period, q.source_platform, q.overall_status, k.event_type,
       k.quality_key, k.coverage, coalesce(k.issues, '[]') AS issues
FROM latest
JOIN raw.pinterest_event_quality AS q USING (ad_account_id, read_day, lookback_period)
LEFT JOIN raw.pinterest_event_quality_keys AS k
       ON (k.ad_account_id, k.read_day, k.lookback_period, k.ingestion_source, k.source_platform)
        = (q.ad_account_id, q.read_day, q.lookback_period, q.ingestion_source, q.source_platform)
      AND k.quality_key = ANY(%(keys)s::text[])
WHERE q.ingestion_source = 'CONVERSIONS_API'
ORDER BY q.ad_account_id, q.source_platform, k.event_type, k.quality_key;
