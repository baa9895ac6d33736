-- Open record issues by kind: a fixed record's rows are removed when it is reloaded, so every row is open.
SELECT source, field, reason, count(*) AS records, max(detected_at) AS last_seen
FROM ops.record_issues
GROUP BY source, field, reason
ORDER BY records DESC, source, field, reason;
