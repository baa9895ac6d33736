-- mart.performance stores the first touch sparsely (docs/data-model.md, mart.performance, "Storage"): every
-- `last_touch` row, and a `first_touch` row only for the keys (grain, grain_id, period, period_start) whose first
-- touch differs from their last (the spend is the same under both models, and most keys, every key of an install
-- without a first-touch role, have no deal whose first touch differs). The view shows the stored rows and, for every
-- last-touch row without a stored first-touch row, that row under 'first_touch'. A stored first-touch row the mart's
-- row rule drops (no ad day, no lead, no win: its key has a last-touch row but no first-touch one) is shown as absent.
-- Each branch has a constant model, so a reader filtering on one model plans only its branches. The view is not
-- updatable: the reconcile writes mart.performance_generations (performance.sql). The next reconcile rebuilds (its
-- rule file changed); until then a generation written densely (migration 086) shows, for a key with a last-touch row
-- and no first-touch row, that row under the first touch too.
DO $$
DECLARE
    columns text[] := (SELECT array_agg(quote_ident(attname) ORDER BY attnum) FROM pg_attribute
                       WHERE attrelid = 'mart.performance_generations'::regclass AND attnum > 0 AND NOT attisdropped
                         AND attname NOT IN ('generation', 'model'));
BEGIN
    EXECUTE format($view$
        CREATE OR REPLACE VIEW mart.performance AS
        SELECT %1$s, 'last_touch'::text AS model
        FROM mart.performance_generations
        WHERE generation = (SELECT mart.generation()) AND model = 'last_touch'
        UNION ALL
        SELECT %1$s, 'first_touch'::text AS model
        FROM mart.performance_generations
        WHERE generation = (SELECT mart.generation()) AND model = 'first_touch'
          AND (ad_days > 0 OR leads <> 0 OR won <> 0 OR leads_won_to_date <> 0 OR pinterest_won <> 0)
        UNION ALL
        SELECT %2$s, 'first_touch'::text AS model
        FROM mart.performance_generations AS last
        WHERE last.generation = (SELECT mart.generation()) AND last.model = 'last_touch'
          AND NOT EXISTS (
              SELECT FROM mart.performance_generations AS first
              WHERE first.generation = last.generation AND first.model = 'first_touch'
                AND first.grain = last.grain AND first.grain_id = last.grain_id AND first.period = last.period
                AND first.period_start = last.period_start)
        $view$,
        array_to_string(columns, ', '),
        (SELECT string_agg('last.' || column_, ', ') FROM unnest(columns) AS column_));
END
$$;
