-- The outbox rows this run decides on: never decided; open (in_flight: a request whose outcome is unknown;
-- pending: answered with a whole-request error, nothing processed); skipped for a reason that may have changed
-- (all but the final reasons while the row is unchanged); failed, once the deal changed. Sent is final.
-- Open rows are always taken; the selection (won_at range) narrows the rest.
SELECT o.event_id, o.stable_key, o.deal_id, o.channel, o.won_at, o.amount, o.currency, o.epik, o.ip_address,
       o.user_agent, o.deal_consent, o.contacts, o.inputs_hash, l.state AS ledger_state
FROM ops.capi_outbox AS o
LEFT JOIN ops.capi_ledger AS l USING (event_id)
WHERE l.state IN ('in_flight', 'pending')
   OR (
       (
           l.event_id IS NULL
           OR (l.state = 'skipped' AND NOT (l.reason = ANY(%(final_skips)s) AND l.inputs_hash = o.inputs_hash))
           OR (l.state = 'failed' AND l.inputs_hash IS DISTINCT FROM o.inputs_hash)
       )
       AND (%(won_after)s::timestamptz IS NULL OR o.won_at >= %(won_after)s::timestamptz)
       AND (%(won_before)s::timestamptz IS NULL OR o.won_at < %(won_before)s::timestamptz)
   )
ORDER BY o.won_at, o.event_id
