-- Conversions API stage events (issue 22): a pipeline stage mapped to a Pinterest event name yields one event per
-- lineage and stage, of kind 'stage:<stage id>', through the same outbox and ledger as leads and checkouts
-- (docs/capi.md, "Stage events"). Numbered after 071, whose event_kind checks it widens.

ALTER TABLE ops.capi_outbox DROP CONSTRAINT capi_outbox_event_kind_check;
ALTER TABLE ops.capi_outbox
    ADD CONSTRAINT capi_outbox_event_kind_check
        CHECK (event_kind IN ('lead', 'checkout') OR event_kind LIKE 'stage:_%'),
    -- a stage event exists only for an entry into its stage: it always has its moment
    ADD CONSTRAINT capi_outbox_stage_event_at CHECK (event_kind NOT LIKE 'stage:%' OR event_at IS NOT NULL);

ALTER TABLE ops.capi_ledger DROP CONSTRAINT capi_ledger_event_kind_check;
ALTER TABLE ops.capi_ledger
    ADD CONSTRAINT capi_ledger_event_kind_check
        CHECK (event_kind IN ('lead', 'checkout') OR event_kind LIKE 'stage:_%');

-- The first entry of each lineage into each mapped stage, as the outbox fill observed it. HubSpot's
-- hs_v2_date_entered_<stage> says when a deal entered the stage last: a deal that goes back and re-enters it moves
-- it later, so the fill keeps the earliest here and never moves it later. stable_key is the lineage's key when
-- observed; after a merge or a re-key it is an alias of the lineage's (raw.hubspot_deal_ids.alias_id).
CREATE TABLE ops.lineage_stage_entries (
    stable_key   text        NOT NULL,
    stage        text        NOT NULL,  -- the HubSpot stage id
    entered_at   timestamptz NOT NULL,
    observed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stable_key, stage)
);
COMMENT ON TABLE ops.lineage_stage_entries IS
    'first entry of each lineage into each stage mapped to a Conversions API event; never moves later (docs/capi.md)';
