-- The outbox rows this run decides on: the undecided ones (inputs new or changed since their last final decision,
-- settings changed, or the event still open: in_flight, a request whose outcome is unknown; pending, answered with a
-- whole-request error, nothing processed; or decided only by a dry or test run). A sent event is final. Open rows are
-- always taken; the kinds the run sends (a kind switched off waits, undecided) and the selection (event time range)
-- narrow the rest. Ordered by kind, so a request carries events of one kind.
-- reported_*: an event of the same kind and lineage (any alias of this row's key: a deal merged into this one, a CRM
-- predecessor; the key itself: a lead whose event id changed) that Pinterest has, or may have (in_flight), under
-- another event id: one lineage, one event of each kind.
SELECT o.event_id, o.event_kind, o.event_at, o.stable_key, o.deal_id, o.channel, o.won_at, o.amount, o.amount_raw,
       o.currency, o.currency_raw, o.epik, o.ip_address, o.user_agent, o.deal_consent, o.contacts, o.inputs_hash,
       l.state AS ledger_state, reported.event_id AS reported_event_id, reported.state AS reported_state,
       reported.deal_id AS reported_deal_id
FROM ops.capi_outbox AS o
LEFT JOIN ops.capi_ledger AS l USING (event_id)
-- The lineage's aliases drive the lookup, each one an index lookup of the ledger: the inner LATERAL is fenced
-- (OFFSET 0), so no plan joins the ledger first (with stale statistics, a scan of the whole ledger per outbox row).
LEFT JOIN LATERAL (
    SELECT earlier.event_id, earlier.state, earlier.deal_id
    FROM raw.hubspot_deal_ids AS alias
    CROSS JOIN LATERAL (
        SELECT ledger.event_id, ledger.state, ledger.deal_id, ledger.first_attempt_at
        FROM ops.capi_ledger AS ledger
        WHERE ledger.stable_key = alias.alias_id AND ledger.event_kind = o.event_kind
          AND ledger.event_id <> o.event_id AND ledger.state IN ('sent', 'in_flight')
        OFFSET 0
    ) AS earlier
    WHERE alias.stable_key = o.stable_key
    ORDER BY earlier.state = 'sent' DESC, earlier.first_attempt_at, earlier.event_id
    LIMIT 1
) AS reported ON true
WHERE o.undecided
  AND l.state IS DISTINCT FROM 'sent'
  AND (
      l.state IN ('in_flight', 'pending')
      OR (
          o.event_kind = ANY(%(kinds)s::text[])
          AND (%(after)s::timestamptz IS NULL OR o.event_at >= %(after)s::timestamptz)
          AND (%(before)s::timestamptz IS NULL OR o.event_at < %(before)s::timestamptz)
      )
  )
ORDER BY o.event_kind, o.event_at NULLS FIRST, o.event_id
