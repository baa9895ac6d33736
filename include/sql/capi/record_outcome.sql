-- After a request's answer: each event's state and Pinterest's verdict, for the rows still under this request.
-- Sent is final; failed is final for the inputs it was decided on: the outbox row stops being undecided.
WITH recorded AS (
    UPDATE ops.capi_ledger AS l SET
        state = o.state,
        reason = o.reason,
        http_status = o.http_status,
        event_status = o.event_status,
        error_message = o.error_message,
        warning_message = o.warning_message,
        attempts = l.attempts + %(extra_attempts)s,
        possible_repeat = l.possible_repeat OR %(possible_repeat)s,
        sent_at = CASE WHEN o.state = 'sent' THEN now() ELSE l.sent_at END,
        last_attempt_at = now(),
        updated_at = now()
    FROM unnest(%(event_ids)s::text[], %(states)s::text[], %(reasons)s::text[], %(http_statuses)s::integer[],
                %(event_statuses)s::text[], %(error_messages)s::text[], %(warning_messages)s::text[])
         AS o (event_id, state, reason, http_status, event_status, error_message, warning_message)
    WHERE l.event_id = o.event_id AND l.request_id = %(request_id)s
    RETURNING l.event_id, l.inputs_hash, l.state, l.possible_repeat
),
settled AS (
    UPDATE ops.capi_outbox AS box SET undecided = false
    FROM recorded
    WHERE box.event_id = recorded.event_id
      AND (recorded.state = 'sent' OR (recorded.state = 'failed' AND box.inputs_hash = recorded.inputs_hash))
)
SELECT state = 'sent' AND possible_repeat FROM recorded
