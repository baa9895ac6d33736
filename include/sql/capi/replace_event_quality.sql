-- The read of one ad account, UTC day and lookback period (pin2deal.capi.quality): the day's earlier read goes
-- (its keys with it, ON DELETE CASCADE), this one's objects and then their keys come in, in one transaction, so a
-- reader sees the day's old read or its new one, never neither nor both. Two runs reading at once (a backfill beside
-- the hourly run) take turns on the read's lock: the second waits, then replaces what the first stored.
SELECT pg_advisory_xact_lock(hashtext('raw.pinterest_event_quality'),
                             hashtext(%(ad_account_id)s || '/' || %(lookback_period)s));

DELETE FROM raw.pinterest_event_quality
WHERE ad_account_id = %(ad_account_id)s AND read_day = %(read_day)s AND lookback_period = %(lookback_period)s;

INSERT INTO raw.pinterest_event_quality (
    ad_account_id, read_day, lookback_period, ingestion_source, source_platform, overall_status, raw, run_id
)
SELECT %(ad_account_id)s, %(read_day)s, %(lookback_period)s, s.ingestion_source, s.source_platform, s.overall_status,
       s.raw::jsonb, %(run_id)s
FROM unnest(%(ingestion_sources)s::text[], %(source_platforms)s::text[], %(overall_statuses)s::text[],
            %(raws)s::text[]) AS s (ingestion_source, source_platform, overall_status, raw);

INSERT INTO raw.pinterest_event_quality_keys (
    ad_account_id, read_day, lookback_period, ingestion_source, source_platform, quality_key, event_type, coverage,
    overlap, issues
)
SELECT %(ad_account_id)s, %(read_day)s, %(lookback_period)s, k.ingestion_source, k.source_platform, k.quality_key,
       k.event_type, k.coverage, k.overlap, k.issues::jsonb
FROM unnest(%(key_ingestion_sources)s::text[], %(key_source_platforms)s::text[], %(quality_keys)s::text[],
            %(event_types)s::text[], %(coverages)s::numeric[], %(overlaps)s::numeric[], %(issues)s::text[])
     AS k (ingestion_source, source_platform, quality_key, event_type, coverage, overlap, issues);
