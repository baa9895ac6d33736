-- Events decided without a real request: skipped with a reason (dry_run and test_mode included, with the payload
-- hash and, for test_mode, Pinterest's test verdict). A sent event is never touched; a dry or test run leaves an
-- in_flight event alone (its outcome is still unknown and the next real run resolves it).
INSERT INTO ops.capi_ledger AS l (
    event_id, stable_key, deal_id, state, reason, inputs_hash, payload_hash, http_status, event_status,
    error_message, warning_message, run_id
)
SELECT d.event_id, d.stable_key, d.deal_id, 'skipped', d.reason, d.inputs_hash, d.payload_hash, d.http_status,
       d.event_status, d.error_message, d.warning_message, %(run_id)s
FROM unnest(%(event_ids)s::text[], %(stable_keys)s::text[], %(deal_ids)s::bigint[], %(reasons)s::text[],
            %(inputs_hashes)s::text[], %(payload_hashes)s::text[], %(http_statuses)s::integer[],
            %(event_statuses)s::text[], %(error_messages)s::text[], %(warning_messages)s::text[])
     AS d (event_id, stable_key, deal_id, reason, inputs_hash, payload_hash, http_status, event_status,
           error_message, warning_message)
ON CONFLICT (event_id) DO UPDATE SET
    stable_key = EXCLUDED.stable_key,
    deal_id = EXCLUDED.deal_id,
    state = 'skipped',
    reason = EXCLUDED.reason,
    inputs_hash = EXCLUDED.inputs_hash,
    payload_hash = EXCLUDED.payload_hash,
    http_status = EXCLUDED.http_status,
    event_status = EXCLUDED.event_status,
    error_message = EXCLUDED.error_message,
    warning_message = EXCLUDED.warning_message,
    run_id = EXCLUDED.run_id,
    updated_at = now()
WHERE l.state <> 'sent' AND NOT (l.state = 'in_flight' AND EXCLUDED.reason IN ('dry_run', 'test_mode'))
