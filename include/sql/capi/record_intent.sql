-- Before a request: its events are in_flight under its request id, committed before the first byte is sent.
-- An event found in_flight here was in a request whose outcome nobody recorded: this one may repeat it.
-- data_warning: what the event leaves out and why (an unusable amount), kept with the outcome; match_keys: the
-- names of the event's user_data fields (comma-separated here), what the sent event carries (migration 076).
INSERT INTO ops.capi_ledger AS l (
    event_id, event_kind, stable_key, deal_id, state, inputs_hash, payload_hash, data_warning, match_keys, attempts,
    request_id, first_attempt_at, last_attempt_at, run_id
)
SELECT o.event_id, o.event_kind, o.stable_key, o.deal_id, 'in_flight', o.inputs_hash, e.payload_hash, e.data_warning,
       string_to_array(e.match_keys, ','), 1, %(request_id)s, now(), now(), %(run_id)s
FROM unnest(%(event_ids)s::text[], %(payload_hashes)s::text[], %(data_warnings)s::text[], %(match_keys)s::text[])
     AS e (event_id, payload_hash, data_warning, match_keys)
JOIN ops.capi_outbox AS o ON o.event_id = e.event_id
ON CONFLICT (event_id) DO UPDATE SET
    stable_key = EXCLUDED.stable_key,
    deal_id = EXCLUDED.deal_id,
    state = 'in_flight',
    reason = NULL,
    inputs_hash = EXCLUDED.inputs_hash,
    payload_hash = EXCLUDED.payload_hash,
    attempts = l.attempts + 1,
    http_status = NULL,
    event_status = NULL,
    error_message = NULL,
    warning_message = NULL,
    data_warning = EXCLUDED.data_warning,
    match_keys = EXCLUDED.match_keys,
    possible_repeat = l.possible_repeat OR l.state = 'in_flight',
    request_id = EXCLUDED.request_id,
    first_attempt_at = coalesce(l.first_attempt_at, now()),
    last_attempt_at = now(),
    run_id = EXCLUDED.run_id,
    updated_at = now()
WHERE l.state <> 'sent'
