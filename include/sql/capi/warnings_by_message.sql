-- Pinterest's warnings on the Conversions API events decided from the day `first` to the day `last` in `timezone` (the
-- briefing: its week in the account's days; the page: its UTC days), counted by message: the warning_message each
-- event's verdict carried (ops.capi_ledger keeps it with the decision). pin2deal.capi.quality reads it.
SELECT warning_message, count(*) AS events
FROM ops.capi_ledger
WHERE warning_message IS NOT NULL
  AND decided_at >= (%(first)s::date)::timestamp AT TIME ZONE %(timezone)s
  AND decided_at < (%(last)s::date + 1)::timestamp AT TIME ZONE %(timezone)s
GROUP BY warning_message
ORDER BY events DESC, warning_message;
