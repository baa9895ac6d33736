-- Conversions API (issue 20): one checkout per lineage, every won deal in the ledger (an unusable amount is a
-- warning, a missing won time a skip), and a sender whose hourly cost follows what changed. docs/capi.md has the rules.

-- A won deal without a won time has an outbox row too (the sender records it skipped, no_won_time). The CRM's own
-- amount and currency strings travel with the parsed values, so the ledger's warning can quote them.
ALTER TABLE ops.capi_outbox
    ALTER COLUMN won_at DROP NOT NULL,
    ADD COLUMN amount_raw text,
    ADD COLUMN currency_raw text,
    -- True from a change of the row's inputs until the sender records a final decision on them (it stays true while
    -- the event is in_flight or pending): the sender reads only these rows.
    ADD COLUMN undecided boolean NOT NULL DEFAULT true;
UPDATE ops.capi_outbox AS o SET undecided = false
FROM ops.capi_ledger AS l
WHERE l.event_id = o.event_id AND l.state = 'sent';
CREATE INDEX capi_outbox_undecided ON ops.capi_outbox (won_at) WHERE undecided;
CREATE INDEX capi_outbox_deal_id ON ops.capi_outbox (deal_id);

-- What pin2deal left out of a sent event and why (an amount or currency it could not use): the ledger's own warning,
-- beside Pinterest's warning_message.
ALTER TABLE ops.capi_ledger ADD COLUMN data_warning text;
COMMENT ON COLUMN ops.capi_ledger.reason IS
    'skipped: lineage_already_reported, channel_not_configured, no_won_time, too_old, consent_denied, no_identifier, '
    'invalid_payload, dry_run, test_mode; failed: rejected, bad_request, unreadable_answer; sent: unreadable_answer '
    '(recorded on the 200 alone); pending: token, request_refused, transient, bad_request';

-- The settings the ledger's decisions were made under (one row): when a run's differ, its skipped and failed events
-- are decided again (include/sql/capi/record_settings.sql).
CREATE TABLE ops.capi_decision_settings (
    id         boolean     PRIMARY KEY DEFAULT true CHECK (id),
    settings   jsonb       NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- What the outbox fill reads to find the deals that changed since its last run (include/sql/capi/fill_outbox.sql),
-- beside 022's BRIN index on raw.hubspot_deals (loaded_at). Mart rows are deleted and inserted anywhere there is
-- room, so a B-tree; contacts are loaded like deals, so a BRIN index as theirs.
CREATE INDEX deal_attribution_reconciled_at ON mart.deal_attribution (reconciled_at);
CREATE INDEX hubspot_contacts_loaded_at ON raw.hubspot_contacts USING brin (loaded_at);

-- Every ledger row with the key of the lineage its deal belongs to now: a merged deal's event is found from the
-- survivor (its key became an alias of the survivor's), and so is a CRM predecessor's.
CREATE VIEW ops.capi_lineage_ledger AS
SELECT coalesce(ids.stable_key, ledger.stable_key) AS lineage_key, ledger.*
FROM ops.capi_ledger AS ledger
LEFT JOIN raw.hubspot_deal_ids AS ids ON ids.alias_id = ledger.stable_key;
