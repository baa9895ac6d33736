-- The outbox rows this run decides on: the undecided ones (inputs new or changed since their last final decision,
-- settings changed, or the event still open: in_flight, a request whose outcome is unknown; pending, answered with a
-- whole-request error, nothing processed; or decided only by a dry or test run). A sent event is final. Open rows are
-- always taken; the selection (won_at range) narrows the rest.
-- reported_*: an event of the same lineage (any alias of this row's key: a deal merged into this one, a CRM
-- predecessor) that Pinterest has, or may have (in_flight), under another event id: one sale, one checkout.
SELECT o.event_id, o.stable_key, o.deal_id, o.channel, o.won_at, o.amount, o.amount_raw, o.currency, o.currency_raw,
       o.epik, o.ip_address, o.user_agent, o.deal_consent, o.contacts, o.inputs_hash, l.state AS ledger_state,
       reported.event_id AS reported_event_id, reported.state AS reported_state,
       reported.deal_id AS reported_deal_id
FROM ops.capi_outbox AS o
LEFT JOIN ops.capi_ledger AS l USING (event_id)
LEFT JOIN LATERAL (
    SELECT earlier.event_id, earlier.state, earlier.deal_id
    FROM raw.hubspot_deal_ids AS alias
    JOIN ops.capi_ledger AS earlier ON earlier.event_id = 'won_' || alias.alias_id
    WHERE alias.stable_key = o.stable_key AND alias.alias_id <> o.stable_key
      AND earlier.state IN ('sent', 'in_flight')
    ORDER BY earlier.state = 'sent' DESC, earlier.first_attempt_at, earlier.event_id
    LIMIT 1
) AS reported ON true
WHERE o.undecided
  AND l.state IS DISTINCT FROM 'sent'
  AND (
      l.state IN ('in_flight', 'pending')
      OR (
          (%(won_after)s::timestamptz IS NULL OR o.won_at >= %(won_after)s::timestamptz)
          AND (%(won_before)s::timestamptz IS NULL OR o.won_at < %(won_before)s::timestamptz)
      )
  )
ORDER BY o.won_at NULLS FIRST, o.event_id
