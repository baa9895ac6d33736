-- After a request's answer, when every event of it has the same outcome (the usual "all processed"): one
-- statement over the request's rows instead of one row per event. Settles the outbox rows as record_outcome.sql.
WITH recorded AS (
    UPDATE ops.capi_ledger AS l SET
        state = %(state)s,
        reason = %(reason)s,
        http_status = %(http_status)s,
        event_status = %(event_status)s,
        error_message = %(error_message)s,
        warning_message = %(warning_message)s,
        attempts = l.attempts + %(extra_attempts)s,
        possible_repeat = l.possible_repeat OR %(possible_repeat)s,
        sent_at = CASE WHEN %(state)s = 'sent' THEN now() ELSE l.sent_at END,
        last_attempt_at = now(),
        updated_at = now()
    WHERE l.request_id = %(request_id)s
    RETURNING l.event_id, l.inputs_hash, l.state, l.possible_repeat
),
settled AS (
    UPDATE ops.capi_outbox AS box SET undecided = false
    FROM recorded
    WHERE box.event_id = recorded.event_id
      AND (recorded.state = 'sent' OR (recorded.state = 'failed' AND box.inputs_hash = recorded.inputs_hash))
)
SELECT state = 'sent' AND possible_repeat FROM recorded
