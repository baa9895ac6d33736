-- Pinterest Ads copies (issue 5): the ad account, its campaigns, ad groups and ads in every status (archived ones
-- spent money too), and delivery metrics per ad per day. Entities keep the API object as received (raw) beside the
-- typed columns reconcile joins on (ids, and names it case-folds itself).
-- Loads run with the transaction-local setting pin2deal.run_id, which the run_id defaults read, so inserted and
-- changed rows name the Airflow run that wrote them while unchanged rows are never rewritten.

CREATE TABLE raw.pinterest_ad_accounts (
    ad_account_id text        PRIMARY KEY,
    name          text,
    currency      text        NOT NULL,  -- ISO 4217: the unit of every *_MICRO_DOLLAR metric of the account
    timezone      text        NOT NULL,  -- IANA name: Pinterest reports days in the ad account's time zone
    raw           jsonb       NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT now(),
    run_id        text        DEFAULT current_setting('pin2deal.run_id', true)
);

CREATE TABLE raw.pinterest_campaigns (
    campaign_id    text        PRIMARY KEY,
    ad_account_id  text        NOT NULL,
    name           text,
    status         text,                  -- entity status: ACTIVE, PAUSED, ARCHIVED, DRAFT, DELETED_DRAFT
    summary_status text,
    objective_type text,
    created_time   timestamptz,
    updated_time   timestamptz,
    raw            jsonb       NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),  -- last time a load changed the row
    run_id         text        DEFAULT current_setting('pin2deal.run_id', true)
);

CREATE TABLE raw.pinterest_ad_groups (
    ad_group_id    text        PRIMARY KEY,
    ad_account_id  text        NOT NULL,
    campaign_id    text,
    name           text,
    status         text,
    summary_status text,
    created_time   timestamptz,
    updated_time   timestamptz,
    raw            jsonb       NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    run_id         text        DEFAULT current_setting('pin2deal.run_id', true)
);
CREATE INDEX pinterest_ad_groups_campaign_id ON raw.pinterest_ad_groups (campaign_id);

CREATE TABLE raw.pinterest_ads (
    ad_id          text        PRIMARY KEY,
    ad_account_id  text        NOT NULL,
    campaign_id    text,
    ad_group_id    text,
    pin_id         text,
    name           text,
    status         text,
    summary_status text,
    created_time   timestamptz,
    updated_time   timestamptz,
    raw            jsonb       NOT NULL,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    run_id         text        DEFAULT current_setting('pin2deal.run_id', true)
);
CREATE INDEX pinterest_ads_ad_group_id ON raw.pinterest_ads (ad_group_id);

-- One row per ad per day (the ad account's local day). A re-pull of a day replaces its rows: changed metrics are
-- updated in place and rows Pinterest no longer reports for the pulled ads and days are deleted.
CREATE TABLE raw.pinterest_ad_daily (
    ad_id           text        NOT NULL,
    date            date        NOT NULL,
    ad_account_id   text        NOT NULL,
    ad_group_id     text,
    campaign_id     text,
    spend_micro     bigint,               -- SPEND_IN_MICRO_DOLLAR; NULL when missing or invalid (ops.record_issues)
    spend           numeric,              -- spend_micro / 1e6 exactly, in the account's currency (set by the load:
                                          -- a generated column costs a numeric division per row on every load)
    currency        text        NOT NULL,
    impressions     bigint,               -- PAID_IMPRESSION
    clicks          bigint,               -- TOTAL_CLICKTHROUGH
    checkouts       bigint,               -- TOTAL_CHECKOUT
    click_checkouts bigint,               -- TOTAL_CLICK_CHECKOUT
    view_checkouts  bigint,               -- TOTAL_VIEW_CHECKOUT
    provisional     boolean     NOT NULL,  -- Pinterest had not finalised the day's metrics when it was pulled
    metrics         jsonb       NOT NULL,  -- the API row as received
    loaded_at       timestamptz NOT NULL DEFAULT now(),  -- last time a load changed the row
    run_id          text        DEFAULT current_setting('pin2deal.run_id', true),
    PRIMARY KEY (ad_id, date)
);
CREATE INDEX pinterest_ad_daily_provisional ON raw.pinterest_ad_daily (ad_account_id, date) WHERE provisional;
