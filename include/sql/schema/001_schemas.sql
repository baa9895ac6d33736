-- The three layers of DESIGN.md: raw API copies, reconciled marts, and operational state.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS mart;
CREATE SCHEMA IF NOT EXISTS ops;

-- Bad input is loaded, never dropped: each problem of a record is one row here, naming the record and field.
-- A reload of the record replaces its rows, so a fixed record stops being reported.
CREATE TABLE ops.record_issues (
    source      text        NOT NULL,  -- e.g. 'hubspot.deal', 'pinterest.ad_daily'
    record_key  text        NOT NULL,  -- the record's id in that source, e.g. deal id or 'ad_id/date'
    field       text        NOT NULL,  -- the offending field, e.g. 'amount'
    reason      text        NOT NULL,  -- why, e.g. 'not a number'
    raw_value   text,                  -- the value as received (never a secret or raw PII)
    run_id      text,
    detected_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, record_key, field, reason)
);

-- Per-source progress, so a failed or killed run resumes where it stopped.
CREATE TABLE ops.watermarks (
    source     text        NOT NULL,  -- e.g. 'hubspot.deals'
    scope      text        NOT NULL,  -- e.g. the data interval '2025-06-01T00:00:00+00:00/2025-06-01T01:00:00+00:00'
    position   jsonb       NOT NULL,  -- source-specific cursor (last modified time, last id, page, ...)
    completed  boolean     NOT NULL DEFAULT false,
    run_id     text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, scope)
);
