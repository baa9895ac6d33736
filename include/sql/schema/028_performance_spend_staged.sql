-- The spend side of mart.performance, staged by attribution_reconcile's reconcile_spend task for its
-- reconcile_performance task: the spend sums are computed while reconcile_deals computes the deals (two tasks, two
-- cores), and joined to the deals' CRM sums after both. Each reconcile_spend replaces the previous run's rows.
-- Logged, as is everything one task hands to the next: a crash between the tasks must not empty it (the retry of
-- reconcile_performance finds it whole). reconcile_spend records how many rows it staged in ops.reconcile_runs, and
-- reconcile_performance refuses to run on fewer (another run's reconcile_spend replaced them: clear both tasks).
CREATE TABLE mart.performance_spend (
    run_id                    text    NOT NULL,
    grain                     text    NOT NULL,
    grain_id                  text    NOT NULL,
    ad_account_id             text,
    campaign_id               text,
    ad_group_id               text,
    ad_id                     text,
    name                      text,
    period                    text    NOT NULL,
    period_start              date    NOT NULL,
    spend                     numeric NOT NULL,
    spend_currency            text,
    impressions               bigint  NOT NULL,
    clicks                    bigint  NOT NULL,
    platform_checkouts        bigint  NOT NULL,
    platform_click_checkouts  bigint  NOT NULL,
    platform_view_checkouts   bigint  NOT NULL,
    ad_days                   integer NOT NULL
) WITH (autovacuum_enabled = false);  -- replaced whole every run: an autovacuum there would only delay its TRUNCATE

-- The periods an incremental run recomputes the spend of (none on a full rebuild: it recomputes every period).
CREATE TABLE mart.performance_spend_periods (
    run_id        text NOT NULL,
    period        text NOT NULL,
    period_start  date NOT NULL,
    period_end    date NOT NULL,
    PRIMARY KEY (run_id, period, period_start)
);

ALTER TABLE ops.reconcile_runs ADD COLUMN spend_staged_rows bigint;

-- The deal contributions reconcile_deals commits for the later steps: unlogged, a crash between the steps emptied
-- them and the marts silently missed the changed deals until the next rebuild (they hold only an incremental run's
-- few rows, cheap to log).
ALTER TABLE mart.performance_pending SET LOGGED;
ALTER TABLE mart.channel_performance_pending SET LOGGED;

-- Fail the statement with `message` unless `condition` holds: a guard a SQL file can state inline.
CREATE FUNCTION ops.require(condition boolean, message text) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF condition IS NOT TRUE THEN
        RAISE EXCEPTION '%', message;
    END IF;
END
$$;

-- Every Pinterest entity by grain (account, campaign, ad_group, ad): its current name and the ad account, campaign and
-- ad group it belongs to, as mart.performance names and places its rows.
CREATE VIEW mart.pinterest_entity AS
SELECT 'account'::text AS grain, ad_account_id AS grain_id, name, ad_account_id, NULL::text AS campaign_id,
       NULL::text AS ad_group_id
FROM raw.pinterest_ad_accounts
UNION ALL
SELECT 'campaign', campaign_id, name, ad_account_id, campaign_id, NULL FROM raw.pinterest_campaigns
UNION ALL
SELECT 'ad_group', ad_group_id, name, ad_account_id, campaign_id, ad_group_id FROM raw.pinterest_ad_groups
UNION ALL
SELECT 'ad', ad_id, name, ad_account_id, campaign_id, ad_group_id FROM raw.pinterest_ads;
