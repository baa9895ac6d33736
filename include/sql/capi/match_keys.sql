-- The match keys of the Conversions API events sent from the day `first` to the day `last` in `timezone` (the briefing:
-- its week in the account's days; the page: its 7 UTC days), by the moment each was recorded sent, all event kinds
-- together: how many were sent with their keys recorded (ops.capi_ledger.match_keys, migration 076), how many before
-- that (NULL keys: left out of the shares, never read as events without a key), and per shown key (%(keys)s,
-- user_data field names) how many of the recorded ones carried it. One row per key. pin2deal.capi.quality reads it.
WITH sent AS (
    SELECT match_keys
    FROM ops.capi_ledger
    WHERE state = 'sent'
      AND decided_at >= (%(first)s::date)::timestamp AT TIME ZONE %(timezone)s
      AND decided_at < (%(last)s::date + 1)::timestamp AT TIME ZONE %(timezone)s
),
totals AS (
    SELECT count(match_keys) AS events, count(*) - count(match_keys) AS unrecorded FROM sent
)
SELECT shown.key, totals.events, totals.unrecorded,
       (SELECT count(*) FROM sent WHERE shown.key = ANY(sent.match_keys)) AS carrying
FROM unnest(%(keys)s::text[]) WITH ORDINALITY AS shown (key, position), totals
ORDER BY shown.position;
