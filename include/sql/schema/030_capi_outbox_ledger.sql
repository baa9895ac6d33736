-- Conversions API (issue 10): what should be sent (the outbox, rebuilt by include/sql/capi/fill_outbox.sql from
-- the reconciled deals) and what happened to each event (the ledger). docs/capi.md has the rules and states.

-- One row per won deal of mart.deal_attribution, keyed by its event id ('won_' || stable key), so a CRM
-- migration or a merge (new deal ids, same stable key) maps to the same row. Holds the event's inputs as the
-- warehouse stores them (normalised, not yet hashed: hashing happens once, in pin2deal.capi.payload).
CREATE TABLE ops.capi_outbox (
    event_id     text        PRIMARY KEY,           -- 'won_' || stable_key; never changes for a deal lineage
    stable_key   text        NOT NULL UNIQUE,
    deal_id      bigint      NOT NULL,              -- the deal's current HubSpot id
    channel      text        NOT NULL,              -- mart channel: pinterest_paid, pinterest_organic, other, unknown
    won_at       timestamptz NOT NULL,              -- the event time
    amount       numeric,
    currency     text,
    epik         text,                              -- Pinterest click id, sent raw (never hashed)
    ip_address   text,
    user_agent   text,
    deal_consent boolean,                           -- the deal's ads consent (NULL: not captured)
    contacts     jsonb       NOT NULL DEFAULT '[]', -- [{contact_id, email, phone_e164, phone, country, first_name,
                                                    --   last_name, consent}] ordered by contact id
    inputs_hash  text        NOT NULL,              -- md5 of the columns above but deal_id: a change re-opens a failure
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX capi_outbox_won_at ON ops.capi_outbox (won_at);

-- One row per event id: its state and the evidence behind it. Written before each request (the intent:
-- state in_flight) and after its answer, each in its own transaction.
CREATE TABLE ops.capi_ledger (
    event_id         text        PRIMARY KEY,
    stable_key       text        NOT NULL,
    deal_id          bigint      NOT NULL,
    state            text        NOT NULL CHECK (state IN ('in_flight', 'pending', 'sent', 'failed', 'skipped')),
    reason           text,                  -- skipped: no_identifier, consent_denied, too_old, bad_amount,
                                            -- bad_currency, channel_not_configured, invalid_payload, dry_run,
                                            -- test_mode; failed: rejected, bad_request; pending: the whole-request
                                            -- error class
    inputs_hash      text,                  -- the outbox version this row decided on
    payload_hash     text,                  -- SHA-256 of the canonical JSON of the event last built
    attempts         integer     NOT NULL DEFAULT 0,  -- HTTP attempts that carried the event (retries included)
    http_status      integer,               -- status of the last answer (NULL: none yet / no answer)
    event_status     text,                  -- Pinterest's events[].status: processed, failed
    error_message    text,
    warning_message  text,
    possible_repeat  boolean     NOT NULL DEFAULT false,  -- re-sent after an unknown outcome: Pinterest may have it twice
    request_id       uuid,                  -- the request of the last attempt (shared by the events of one batch)
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    sent_at          timestamptz,           -- when Pinterest answered processed
    run_id           text,                  -- the Airflow run that sent it (or last decided on it)
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX capi_ledger_open ON ops.capi_ledger (state) WHERE state IN ('in_flight', 'pending');
CREATE INDEX capi_ledger_request ON ops.capi_ledger (request_id);
