-- Events decided without a real request: skipped with a reason (dry_run and test_mode included, with the payload
-- hash and, for test_mode, Pinterest's test verdict). A sent event is never touched; a dry or test run leaves an
-- in_flight event alone (its outcome is still unknown and the next real run resolves it). A real skip of an event
-- whose last request has an unknown outcome (e.g. too old by now) says so: Pinterest may have it.
-- A real skip is final for the inputs it was decided on: the outbox row stops being undecided (%(open_reasons)s,
-- the dry and test runs' reasons, decide nothing).
WITH recorded AS (
    INSERT INTO ops.capi_ledger AS l (
        event_id, event_kind, stable_key, deal_id, state, reason, inputs_hash, payload_hash, http_status, event_status,
        error_message, warning_message, data_warning, run_id
    )
    SELECT d.event_id, d.event_kind, d.stable_key, d.deal_id, 'skipped', d.reason, d.inputs_hash, d.payload_hash, d.http_status,
           d.event_status, d.error_message, d.warning_message, d.data_warning, %(run_id)s
    FROM unnest(%(event_ids)s::text[], %(event_kinds)s::text[], %(stable_keys)s::text[], %(deal_ids)s::bigint[], %(reasons)s::text[],
                %(inputs_hashes)s::text[], %(payload_hashes)s::text[], %(http_statuses)s::integer[],
                %(event_statuses)s::text[], %(error_messages)s::text[], %(warning_messages)s::text[],
                %(data_warnings)s::text[])
         AS d (event_id, event_kind, stable_key, deal_id, reason, inputs_hash, payload_hash, http_status, event_status,
               error_message, warning_message, data_warning)
    ON CONFLICT (event_id) DO UPDATE SET
        stable_key = EXCLUDED.stable_key,
        deal_id = EXCLUDED.deal_id,
        state = 'skipped',
        reason = EXCLUDED.reason,
        inputs_hash = EXCLUDED.inputs_hash,
        payload_hash = EXCLUDED.payload_hash,
        http_status = EXCLUDED.http_status,
        event_status = EXCLUDED.event_status,
        error_message = CASE WHEN l.state = 'in_flight'
                             THEN 'the outcome of request ' || l.request_id || ' is unknown: Pinterest may have this '
                                  || 'event; now ' || coalesce(EXCLUDED.error_message, EXCLUDED.reason)
                             ELSE EXCLUDED.error_message END,
        warning_message = EXCLUDED.warning_message,
        data_warning = EXCLUDED.data_warning,
        run_id = EXCLUDED.run_id,
        updated_at = now()
    WHERE l.state <> 'sent' AND NOT (l.state = 'in_flight' AND EXCLUDED.reason = ANY(%(open_reasons)s::text[]))
    RETURNING l.event_id, l.inputs_hash, l.reason
)
UPDATE ops.capi_outbox AS o SET undecided = false
FROM recorded
WHERE o.event_id = recorded.event_id AND o.inputs_hash = recorded.inputs_hash
  AND NOT recorded.reason = ANY(%(open_reasons)s::text[])
