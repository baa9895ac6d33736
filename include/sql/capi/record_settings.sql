-- The settings a run decides under (channels, consent, age limit...; ops.capi_decision_settings, one row). When they
-- differ from the last run's, every skipped or failed event is decided again (a deal of a channel just added is
-- sent; one refused may now pass): its outbox row is flagged undecided. Returns how many rows were re-opened.
WITH previous AS (
    SELECT settings FROM ops.capi_decision_settings FOR UPDATE
),
saved AS (
    INSERT INTO ops.capi_decision_settings AS s (id, settings) VALUES (true, %(settings)s)
    ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings, changed_at = now()
    WHERE s.settings IS DISTINCT FROM EXCLUDED.settings
),
reopened AS (
    UPDATE ops.capi_outbox AS box SET undecided = true
    FROM ops.capi_ledger AS l
    WHERE EXISTS (SELECT FROM previous WHERE previous.settings IS DISTINCT FROM %(settings)s::jsonb)
      AND l.event_id = box.event_id AND l.state IN ('skipped', 'failed') AND NOT box.undecided
    RETURNING 1
)
SELECT count(*) FROM reopened
