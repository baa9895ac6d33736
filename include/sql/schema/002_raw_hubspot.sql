-- HubSpot CRM copies (issue 4). Every table keeps HubSpot's values as received (properties jsonb) beside the
-- typed columns the reconcile, CAPI and briefing steps read; a value that cannot be typed is NULL in its typed
-- column, kept raw, and reported in ops.record_issues (source 'hubspot.deal' / 'hubspot.contact').
-- run_id columns default to the transaction's `pin2deal.run_id` setting, which the loader sets per page.

CREATE TABLE raw.hubspot_deals (
    deal_id                   bigint      PRIMARY KEY,
    properties                jsonb       NOT NULL,  -- every property read, strings exactly as HubSpot sent them
    amount                    numeric,               -- NULL when unset or not a number (see amount_raw)
    amount_raw                text,
    currency                  text,                  -- deal_currency_code when a valid ISO 4217 code
    amount_in_home_currency   numeric,
    created_at                timestamptz,           -- createdate (UTC)
    closed_at                 timestamptz,           -- closedate
    modified_at               timestamptz,           -- hs_lastmodifieddate
    pipeline                  text,
    dealstage                 text,
    is_closed_won             boolean,               -- hs_is_closed_won, or the stage is a closed-won stage
    won_at                    timestamptz,           -- entry into its closed-won stage (hs_v2_date_entered_*), else closedate
    epik                      text,                  -- Pinterest click id when valid (sent raw to CAPI)
    epik_raw                  text,
    utm_source                text,
    utm_medium                text,
    utm_campaign              text,
    utm_content               text,
    pinterest_campaign_id     text,
    pinterest_ad_group_id     text,
    pinterest_ad_id           text,
    analytics_source          text,
    analytics_source_data_1   text,
    analytics_source_data_2   text,
    ip_address                text,
    user_agent                text,
    ads_consent               boolean,               -- NULL: not captured (or not a yes/no value, reported)
    legacy_deal_id            text,                  -- the deal's id before a CRM migration
    merged_object_ids         bigint[]    NOT NULL DEFAULT '{}',  -- deals merged into this one
    archived                  boolean     NOT NULL DEFAULT false,
    archived_at               timestamptz,
    hubspot_created_at        timestamptz,
    hubspot_updated_at        timestamptz,
    merged_into_deal_id       bigint,                -- set when another deal lists this one in hs_merged_object_ids
    first_seen_at             timestamptz NOT NULL DEFAULT now(),
    loaded_at                 timestamptz NOT NULL DEFAULT now(),  -- last time a load changed the row
    run_id                    text        DEFAULT current_setting('pin2deal.run_id', true)  -- run that last changed it
);
CREATE INDEX hubspot_deals_modified_at ON raw.hubspot_deals (modified_at);
CREATE INDEX hubspot_deals_won_at ON raw.hubspot_deals (won_at) WHERE is_closed_won;

-- Every id a deal was ever known by -> its stable key, the id CAPI's event_id is built from. The key is the
-- first id pin2deal saw for the deal's lineage and never changes: a new id inherits the key of its
-- legacy_deal_id (CRM migration) or of a deal merged into it (hs_merged_object_ids), and those old ids are
-- recorded as aliases of the new deal's key.
CREATE TABLE raw.hubspot_deal_ids (
    alias_id      text        PRIMARY KEY,  -- a HubSpot deal id, or a legacy_deal_id value
    stable_key    text        NOT NULL,
    via           text        NOT NULL CHECK (via IN ('self', 'legacy', 'merged')),
    deal_id       bigint      NOT NULL,     -- the deal whose load recorded this alias
    first_seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hubspot_deal_ids_stable_key ON raw.hubspot_deal_ids (stable_key);

-- A deal's contacts exactly as last read: each load replaces the set of the deals it loaded.
CREATE TABLE raw.hubspot_deal_contacts (
    deal_id     bigint NOT NULL,
    contact_id  bigint NOT NULL,
    type_ids    integer[] NOT NULL DEFAULT '{}',  -- association type ids (3 = deal to contact)
    labels      text[]    NOT NULL DEFAULT '{}',
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    run_id      text DEFAULT current_setting('pin2deal.run_id', true),
    PRIMARY KEY (deal_id, contact_id)
);
CREATE INDEX hubspot_deal_contacts_contact ON raw.hubspot_deal_contacts (contact_id);

-- Contacts of loaded deals. PII (email, phone) stays in the warehouse; CAPI hashes the normalised columns.
CREATE TABLE raw.hubspot_contacts (
    contact_id          bigint      PRIMARY KEY,
    properties          jsonb       NOT NULL,
    email               text,                  -- as received
    email_normalized    text,                  -- trimmed, lower-cased, when it is an email address
    phone               text,                  -- as received
    mobilephone         text,
    phone_e164          text,                  -- phone (else mobilephone) in E.164 when valid
    first_name          text,
    last_name           text,
    ads_consent         boolean,
    created_at          timestamptz,
    modified_at         timestamptz,           -- lastmodifieddate
    archived            boolean     NOT NULL DEFAULT false,
    hubspot_created_at  timestamptz,
    hubspot_updated_at  timestamptz,
    first_seen_at       timestamptz NOT NULL DEFAULT now(),
    loaded_at           timestamptz NOT NULL DEFAULT now(),
    run_id              text        DEFAULT current_setting('pin2deal.run_id', true)
);

-- Deal pipeline stages, re-read every run: which stages are closed-won drives the won rule.
CREATE TABLE raw.hubspot_pipeline_stages (
    pipeline_id     text    NOT NULL,
    stage_id        text    NOT NULL,
    pipeline_label  text,
    label           text,
    display_order   integer,
    is_closed       boolean,
    probability     numeric,
    is_closed_won   boolean NOT NULL,
    archived        boolean NOT NULL DEFAULT false,
    metadata        jsonb   NOT NULL DEFAULT '{}',
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pipeline_id, stage_id)
);
