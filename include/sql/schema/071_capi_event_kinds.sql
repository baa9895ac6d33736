-- Conversions API funnel (issue 22): a lineage gets one event per kind, a `lead` at its lead moment and a `checkout`
-- when won, through the same outbox and ledger (docs/capi.md, "The funnel").

-- One outbox row per lineage and kind; event_at is when the event happened (a checkout's won time, a lead's lead
-- moment), won_at stays the deal's won time (a lead's row has none).
ALTER TABLE ops.capi_outbox
    ADD COLUMN event_kind text NOT NULL DEFAULT 'checkout' CHECK (event_kind IN ('lead', 'checkout')),
    ADD COLUMN event_at timestamptz;
UPDATE ops.capi_outbox SET event_at = won_at;
ALTER TABLE ops.capi_outbox ALTER COLUMN event_kind DROP DEFAULT;
ALTER TABLE ops.capi_outbox DROP CONSTRAINT capi_outbox_stable_key_key;
ALTER TABLE ops.capi_outbox ADD CONSTRAINT capi_outbox_stable_key_kind UNIQUE (stable_key, event_kind);
DROP INDEX ops.capi_outbox_undecided;
CREATE INDEX capi_outbox_undecided ON ops.capi_outbox (event_kind, event_at) WHERE undecided;

ALTER TABLE ops.capi_ledger
    ADD COLUMN event_kind text NOT NULL DEFAULT 'checkout' CHECK (event_kind IN ('lead', 'checkout'));
ALTER TABLE ops.capi_ledger ALTER COLUMN event_kind DROP DEFAULT;
-- The sender's lineage check: the ledger rows of a kind under any alias of a lineage's key.
CREATE INDEX capi_ledger_stable_key_kind ON ops.capi_ledger (stable_key, event_kind);
COMMENT ON COLUMN ops.capi_ledger.reason IS
    'skipped: lineage_already_reported, channel_not_configured, no_won_time, no_lead_time, too_old, consent_denied, '
    'no_identifier, invalid_payload, dry_run, test_mode; failed: rejected, bad_request, unreadable_answer; sent: '
    'unreadable_answer (recorded on the 200 alone); pending: token, request_refused, transient, bad_request';

-- The view lists the ledger's columns as they were when it was created: again, with event_kind.
DROP VIEW ops.capi_lineage_ledger;
CREATE VIEW ops.capi_lineage_ledger AS
SELECT coalesce(ids.stable_key, ledger.stable_key) AS lineage_key, ledger.*
FROM ops.capi_ledger AS ledger
LEFT JOIN raw.hubspot_deal_ids AS ids ON ids.alias_id = ledger.stable_key;

-- Every deal gets its lead row: the next fill looks at the whole published marts once.
DELETE FROM ops.watermarks WHERE source = 'capi.outbox' AND scope = 'fill';
