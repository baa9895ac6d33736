-- The reconcile's marts (docs/data-model.md is their contract) and its operational state. Every mart is rebuilt
-- from raw by include/sql/reconcile/ (fully, or for what changed since the last run): nothing here is a source.

-- One row per counted deal (live: not archived, not merged away, not deleted).
CREATE TABLE mart.deal_attribution (
    stable_key            text        PRIMARY KEY,
    deal_id               bigint      NOT NULL,
    channel               text        NOT NULL CHECK (channel IN ('pinterest_paid', 'pinterest_organic', 'other', 'unknown')),
    channel_name          text,
    epik                  text,
    ad_account_id         text,
    campaign_id           text,
    ad_group_id           text,
    ad_id                 text,
    campaign_resolved_by  text        CHECK (campaign_resolved_by IN ('macro_id', 'utm_id', 'utm_name', 'unresolved')),
    ad_group_resolved_by  text        CHECK (ad_group_resolved_by IN ('macro_id', 'utm_id', 'utm_name', 'unresolved')),
    ad_resolved_by        text        CHECK (ad_resolved_by IN ('macro_id', 'utm_id', 'utm_name', 'unresolved')),
    pipeline              text,
    dealstage             text,
    is_won                boolean     NOT NULL,
    lead_at               timestamptz,
    lead_day              date,
    won_at                timestamptz,
    won_day               date,
    time_to_close         interval,
    amount                numeric,
    currency              text,
    amount_home           numeric,
    home_currency         text        NOT NULL,
    source_modified_at    timestamptz NOT NULL,
    -- additions beyond the contract's first version
    report_account_id     text,        -- the ad account whose days and totals a Pinterest deal counts in
    utm_source            text,
    utm_campaign          text,
    utm_content           text,
    contact_count         integer     NOT NULL DEFAULT 0,
    lineage_deal_count    integer     NOT NULL DEFAULT 1,
    reconciled_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX deal_attribution_deal_id ON mart.deal_attribution (deal_id);
CREATE INDEX deal_attribution_source_modified_at ON mart.deal_attribution (source_modified_at);

-- Spend and CRM outcomes per grain (account, campaign, ad_group, ad) and period (day, week, month).
CREATE TABLE mart.performance (
    grain                     text    NOT NULL CHECK (grain IN ('account', 'campaign', 'ad_group', 'ad')),
    grain_id                  text    NOT NULL,
    ad_account_id             text,
    campaign_id               text,
    ad_group_id               text,
    ad_id                     text,
    name                      text,
    period                    text    NOT NULL CHECK (period IN ('day', 'week', 'month')),
    period_start              date    NOT NULL,
    period_end                date    NOT NULL,
    spend                     numeric NOT NULL DEFAULT 0,
    spend_currency            text,
    impressions               bigint  NOT NULL DEFAULT 0,
    clicks                    bigint  NOT NULL DEFAULT 0,
    platform_checkouts        bigint  NOT NULL DEFAULT 0,
    platform_click_checkouts  bigint  NOT NULL DEFAULT 0,
    platform_view_checkouts   bigint  NOT NULL DEFAULT 0,
    leads                     integer NOT NULL DEFAULT 0,
    won                       integer NOT NULL DEFAULT 0,
    revenue                   numeric NOT NULL DEFAULT 0,
    revenue_currency          text    NOT NULL,
    cac                       numeric,
    roas                      numeric,
    -- additions beyond the contract's first version
    ad_days                   integer NOT NULL DEFAULT 0,  -- ad-day rows of raw.pinterest_ad_daily summed
    leads_won_to_date         integer NOT NULL DEFAULT 0,  -- of `leads`, won by now (cohort CAC)
    pinterest_won             integer NOT NULL DEFAULT 0,  -- won Pinterest deals, paid and organic (truth vs platform)
    pinterest_won_with_epik   integer NOT NULL DEFAULT 0,
    reconciled_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grain, grain_id, period, period_start)
);

-- CRM side of mart.performance waiting to be applied: deal changes as signed contributions (+new, -old). Filled
-- and emptied by the reconcile, each in one transaction, so a retried step never applies a change twice.
CREATE UNLOGGED TABLE mart.performance_pending (
    grain                    text    NOT NULL,
    grain_id                 text    NOT NULL,
    ad_account_id            text,
    campaign_id              text,
    ad_group_id              text,
    ad_id                    text,
    period                   text    NOT NULL,
    period_start             date    NOT NULL,
    leads                    integer NOT NULL,
    won                      integer NOT NULL,
    revenue                  numeric NOT NULL,
    leads_won_to_date        integer NOT NULL,
    pinterest_won            integer NOT NULL,
    pinterest_won_with_epik  integer NOT NULL
);

CREATE TABLE mart.cohort_cac (
    grain          text    NOT NULL,
    grain_id       text    NOT NULL,
    ad_account_id  text,
    campaign_id    text,
    ad_group_id    text,
    ad_id          text,
    name           text,
    cohort_month   date    NOT NULL,
    spend          numeric NOT NULL,
    spend_currency text,
    leads          integer NOT NULL,
    won_to_date    integer NOT NULL,
    cac            numeric,
    PRIMARY KEY (grain, grain_id, cohort_month)
);

-- One row per (campaign, week) and per (account, week): grain 'campaign' or 'account'.
CREATE TABLE mart.truth_vs_platform (
    grain                    text    NOT NULL CHECK (grain IN ('account', 'campaign')),
    grain_id                 text    NOT NULL,
    ad_account_id            text,
    campaign_id              text,
    name                     text,
    week_start               date    NOT NULL,
    platform_checkouts       bigint  NOT NULL,
    platform_click_checkouts bigint  NOT NULL,
    platform_view_checkouts  bigint  NOT NULL,
    crm_won                  integer NOT NULL,
    crm_won_with_epik        integer NOT NULL,
    epik_coverage            numeric,
    PRIMARY KEY (grain, grain_id, week_start)
);

CREATE TABLE mart.channel_performance (
    channel_name     text    NOT NULL,
    period           text    NOT NULL CHECK (period IN ('day', 'week', 'month')),
    period_start     date    NOT NULL,
    period_end       date    NOT NULL,
    spend            numeric,
    spend_currency   text,
    leads            integer NOT NULL,
    won              integer NOT NULL,
    revenue          numeric NOT NULL,
    revenue_currency text    NOT NULL,
    cac              numeric,
    PRIMARY KEY (channel_name, period, period_start)
);

-- Other channels' spend, from CSV files dropped in a folder (docs/reconcile.md, "Other channels").
CREATE TABLE raw.channel_spend (
    channel      text        NOT NULL,  -- lower-cased, e.g. 'google'
    campaign     text        NOT NULL,
    day          date        NOT NULL,
    spend        numeric     NOT NULL CHECK (spend >= 0),
    currency     text        NOT NULL,  -- ISO 4217
    source_file  text        NOT NULL,
    source_line  integer     NOT NULL,
    loaded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, campaign, day)
);

-- Every CSV file loaded (by content hash, so a file is never loaded twice, whatever it is renamed to).
CREATE TABLE ops.channel_spend_files (
    sha256     text        PRIMARY KEY,
    file_name  text        NOT NULL,
    lines      integer     NOT NULL,
    loaded     integer     NOT NULL,
    rejected   integer     NOT NULL,
    run_id     text,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

-- Every name (case-folded, spaces, '-' and '_' collapsed) a Pinterest entity was seen with by a reconcile, so a
-- deal whose utm_campaign carries a campaign's old name still resolves after a rename.
CREATE TABLE ops.pinterest_entity_names (
    level            text        NOT NULL CHECK (level IN ('campaign', 'ad_group', 'ad')),
    entity_id        text        NOT NULL,
    normalized_name  text        NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (level, normalized_name, entity_id)
);

-- One row per reconcile run: what it rebuilt (full or the changes since `since`), when, and its check results.
CREATE TABLE ops.reconcile_runs (
    run_id          text        PRIMARY KEY,
    mode            text        NOT NULL CHECK (mode IN ('full', 'incremental')),
    reason          text        NOT NULL,
    since           timestamptz NOT NULL,  -- raw rows loaded after this are reconciled ('-infinity' for full)
    watermark       timestamptz NOT NULL,  -- the next run's `since` once this one finishes
    rules_checksum  text        NOT NULL,  -- sha256 of include/sql/reconcile/*.sql: a changed rule rebuilds all
    home_currency   text        NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    deals_changed   integer,
    warnings        integer,
    checks          jsonb
);
