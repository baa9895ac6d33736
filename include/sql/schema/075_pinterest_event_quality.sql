-- Pinterest's Event Quality Score (issue 22, "the match-quality loop"): what GET /v5/ad_accounts/{id}/conversion_eqs
-- answered, read by pinterest_capi's read_event_quality after each send (pin2deal.capi.quality). One read per ad account,
-- UTC day (by the API's clock) and lookback period: a re-run of the day replaces that day's rows, never adds to them.

-- One row per source platform and ingestion source of the answer: Pinterest's rating of those events.
CREATE TABLE raw.pinterest_event_quality (
    ad_account_id    text        NOT NULL,
    read_day         date        NOT NULL,  -- the UTC day it was read (the API's Date header)
    lookback_period  text        NOT NULL,  -- 1d or 14d: the events of that many days before the read
    ingestion_source text        NOT NULL,  -- CONVERSIONS_API, TAG, MMP, FILE_UPLOAD, NATIVE
    source_platform  text        NOT NULL,  -- WEB, OFFLINE, MOBILE_ANDROID, ...
    overall_status   text        NOT NULL,  -- NEEDS_IMPROVEMENT, FAIR or GOOD
    raw              jsonb       NOT NULL,  -- the answer's object as received
    loaded_at        timestamptz NOT NULL DEFAULT now(),
    run_id           text,
    PRIMARY KEY (ad_account_id, read_day, lookback_period, ingestion_source, source_platform)
);

-- Its quality components: per key (hashed_email, click_id_epik, ...) and conversion event type, the percentage of
-- the events that carried the key, and the issues Pinterest found with it.
CREATE TABLE raw.pinterest_event_quality_keys (
    ad_account_id    text        NOT NULL,
    read_day         date        NOT NULL,
    lookback_period  text        NOT NULL,
    ingestion_source text        NOT NULL,
    source_platform  text        NOT NULL,
    quality_key      text        NOT NULL,  -- the quality_components key: hashed_email, click_id_epik, order_id, ...
    event_type       text        NOT NULL,  -- the conversion event type the coverage is of (checkout, lead, ...)
    coverage         numeric     NOT NULL,  -- percent (0-100) of the events that include the key
    overlap          numeric,               -- percent; Pinterest gives it for external_event_id only
    issues           jsonb       NOT NULL DEFAULT '[]',  -- [{id, name, reason}]
    PRIMARY KEY (ad_account_id, read_day, lookback_period, ingestion_source, source_platform, quality_key, event_type),
    FOREIGN KEY (ad_account_id, read_day, lookback_period, ingestion_source, source_platform)
        REFERENCES raw.pinterest_event_quality ON DELETE CASCADE
);

-- The Conversions API's warnings counted by message (the briefing's and the page's week): a partial index, as few
-- events carry one.
CREATE INDEX capi_ledger_warning ON ops.capi_ledger (decided_at) WHERE warning_message IS NOT NULL;
