-- Pinterest's Event Quality Score of our Conversions API events as of the briefing (pin2deal.capi.quality): the
-- latest read up to the day after the briefing day (the morning run reads it before it briefs; UTC days, as the read
-- is dated by the API's clock), the 14-day read when both lookbacks were read that day; the coverage of the keys the
-- briefing shows (%(keys)s), per source platform and event type. Only run when raw.pinterest_event_quality exists.
WITH latest AS (
    SELECT DISTINCT ON (ad_account_id) ad_account_id, read_day, lookback_period
    FROM raw.pinterest_event_quality
    WHERE read_day <= %(day)s::date + 1 AND ingestion_source = 'CONVERSIONS_API'
    ORDER BY ad_account_id, read_day DESC, lookback_period = '14d' DESC
)
SELECT q.ad_account_id, q.read_day, q.lookback_period, q.source_platform, q.overall_status, k.event_type,
       k.quality_key, k.coverage
FROM latest
JOIN raw.pinterest_event_quality AS q USING (ad_account_id, read_day, lookback_period)
LEFT JOIN raw.pinterest_event_quality_keys AS k
       ON (k.ad_account_id, k.read_day, k.lookback_period, k.ingestion_source, k.source_platform)
        = (q.ad_account_id, q.read_day, q.lookback_period, q.ingestion_source, q.source_platform)
      AND k.quality_key = ANY(%(keys)s::text[])
WHERE q.ingestion_source = 'CONVERSIONS_API'
ORDER BY q.ad_account_id, q.source_platform, k.event_type, k.quality_key;
