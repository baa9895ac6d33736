-- Cohort windows (docs/reconcile.md, "Cohort windows"): mart.cohort_cac counts, per lead month, the leads won within
-- 7, 30 and 90 days of their lead day and within the run's own window (`cohort_window_days`, stored per row as
-- window_days). won_to_date favours old cohorts; a fixed window compares cohorts of any age fairly.
-- The table keeps every count as the reconcile computed it; the view shows a window's count only once every lead of
-- the cohort has had its N days as of the data the publication reflects (the publishing run's watermark, as a day of
-- the row's ad account): before that it is NULL, "not yet known", never an undercount.
-- Rows written before this migration have no counts: the next reconcile rebuilds (its rule files changed).
ALTER TABLE mart.cohort_cac_generations
    ADD COLUMN won_within_7d integer,
    ADD COLUMN won_within_30d integer,
    ADD COLUMN won_within_90d integer,
    ADD COLUMN won_within_window integer,
    ADD COLUMN window_days integer;

-- What the published marts reflect: the publishing run's watermark (raw rows loaded before it are in), else (the
-- migration published generation 1) the publication's time.
CREATE FUNCTION mart.published_as_of() RETURNS timestamptz
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT COALESCE(runs.watermark, publication.published_at)
          FROM ops.mart_publication AS publication
          LEFT JOIN ops.reconcile_runs AS runs ON runs.run_id = publication.run_id $$;

-- True when the `days`-day windows of every lead of the month starting `cohort_month` have closed by `as_of` (in the
-- ad account's days): the last day of the month plus `days` is before as_of's day.
CREATE FUNCTION mart.cohort_window_closed(cohort_month date, days integer, ad_account_id text, as_of timestamptz)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT (as_of AT TIME ZONE COALESCE(
                     (SELECT timezone FROM raw.pinterest_ad_accounts AS account
                      WHERE account.ad_account_id = cohort_window_closed.ad_account_id), 'UTC'))::date
                 >= (cohort_month + interval '1 month')::date + days $$;

DROP VIEW mart.cohort_cac;
CREATE VIEW mart.cohort_cac AS  -- the counts behind a window that has not closed yet are NULL
SELECT cohort.grain, cohort.grain_id, cohort.ad_account_id, cohort.campaign_id, cohort.ad_group_id, cohort.ad_id,
       cohort.name, cohort.cohort_month, cohort.spend, cohort.spend_currency, cohort.leads, cohort.won_to_date,
       cohort.cac,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 7, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_7d END AS won_within_7d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 30, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_30d END AS won_within_30d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 90, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_90d END AS won_within_90d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, cohort.window_days, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_window END AS won_within_window,
       cohort.window_days
FROM mart.cohort_cac_generations AS cohort
WHERE cohort.generation = (SELECT mart.generation());
