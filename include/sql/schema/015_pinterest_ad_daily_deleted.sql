-- Every row a re-pull deleted from raw.pinterest_ad_daily (Pinterest no longer reported it for the ads and days
-- asked), kept whole with when, by which run and why: a deletion can always be explained and undone. Deletions
-- happen only when the answer is trustworthy (docs/pinterest.md, "Deletions"); otherwise the task fails instead.
CREATE TABLE raw.pinterest_ad_daily_deleted (
    LIKE raw.pinterest_ad_daily,
    deleted_at        timestamptz NOT NULL DEFAULT now(),
    deleted_by_run_id text        DEFAULT current_setting('pin2deal.run_id', true),
    reason            text        NOT NULL
);
CREATE INDEX pinterest_ad_daily_deleted_ad_date ON raw.pinterest_ad_daily_deleted (ad_id, date);
