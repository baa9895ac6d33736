-- Conversions API events by state and reason (ops.capi_ledger: one row per event, its latest decision).
SELECT state, coalesce(reason, '') AS reason, count(*) AS events
FROM ops.capi_ledger
GROUP BY state, coalesce(reason, '')
ORDER BY state, events DESC, reason;
