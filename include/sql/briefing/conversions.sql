-- Conversions API events decided on the briefing day (account time zone), by ledger state: sent when Pinterest
-- processed them, failed or skipped when last decided. Only run when ops.capi_ledger exists.
SELECT state, count(*) AS events
FROM ops.capi_ledger
WHERE (CASE WHEN state = 'sent' THEN coalesce(sent_at, last_attempt_at, updated_at)
            ELSE coalesce(last_attempt_at, updated_at) END AT TIME ZONE %(timezone)s)::date = %(day)s
GROUP BY state;
