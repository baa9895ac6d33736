-- Pinterest's warnings on the Conversions API events decided in the page's period (UTC days), counted by message.
SELECT warning_message, count(*) AS events
FROM ops.capi_ledger
WHERE warning_message IS NOT NULL
  AND decided_at >= (%(first)s::date)::timestamp AT TIME ZONE 'UTC'
  AND decided_at < (%(last)s::date + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY warning_message
ORDER BY events DESC, warning_message;
