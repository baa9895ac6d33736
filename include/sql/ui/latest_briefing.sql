-- The pin2deal page: the newest briefing (ops.briefings, one row per briefing day).
SELECT briefing_date, markdown, stale, generated_at, run_id, delivered_to
FROM ops.briefings
ORDER BY briefing_date DESC
LIMIT 1;
