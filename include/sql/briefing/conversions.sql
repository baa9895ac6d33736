-- Conversions API decisions made on the briefing day (account time zone), by the state they left: an event counts
-- on the day its state or reason last changed (ops.capi_ledger.decided_at, migration 060), never on the day the
-- sender last rewrote its row, so an event skipped for the same reason run after run counts once, on the day it was
-- first skipped. Only run when ops.capi_ledger exists.
SELECT state, count(*) AS events
FROM ops.capi_ledger
WHERE decided_at >= (%(day)s::date)::timestamp AT TIME ZONE %(timezone)s
  AND decided_at < (%(day)s::date + 1)::timestamp AT TIME ZONE %(timezone)s
GROUP BY state;
