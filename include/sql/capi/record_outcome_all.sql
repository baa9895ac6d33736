-- After a request's answer, when every event of it has the same outcome (the usual "all processed"): one
-- statement over the request's rows instead of one row per event.
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
RETURNING l.state = 'sent' AND l.possible_repeat
