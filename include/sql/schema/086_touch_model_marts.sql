-- Both touch models in the marts (docs/attribution.md, "Touch models"): mart.performance, mart.cohort_cac and
-- mart.channel_performance hold each row once per model, `last_touch` (what every reader read before, and the
-- default) and `first_touch`, the model part of each mart's key. The spend is the same under both; only the CRM side
-- (leads, won, revenue, cohorts, forecast) differs. The pending contributions between a run's steps carry their model,
-- and mart.deal_attribution gains the ad account whose days a deal's first touch counts in (as report_account_id is
-- the last touch's). Rows written before this migration are the last touch's: the next reconcile rebuilds every mart
-- (its rule files changed).
ALTER TABLE mart.performance_generations
    ADD COLUMN model text NOT NULL DEFAULT 'last_touch' CHECK (model IN ('last_touch', 'first_touch'));
ALTER TABLE mart.cohort_cac_generations
    ADD COLUMN model text NOT NULL DEFAULT 'last_touch' CHECK (model IN ('last_touch', 'first_touch'));
ALTER TABLE mart.channel_performance_generations
    ADD COLUMN model text NOT NULL DEFAULT 'last_touch' CHECK (model IN ('last_touch', 'first_touch'));
ALTER TABLE mart.deal_attribution_generations ADD COLUMN first_touch_report_account_id text;

-- Empty between runs; what an unpublished run left is recomputed by the next (a rebuild, its rules changed).
TRUNCATE mart.performance_pending, mart.channel_performance_pending;
ALTER TABLE mart.performance_pending
    ADD COLUMN model text NOT NULL CHECK (model IN ('last_touch', 'first_touch'));
ALTER TABLE mart.channel_performance_pending
    ADD COLUMN model text NOT NULL CHECK (model IN ('last_touch', 'first_touch'));

-- The views show the new columns (appended: every existing column keeps its place).
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['deal_attribution', 'performance', 'channel_performance'] LOOP
        EXECUTE format(
            'CREATE OR REPLACE VIEW mart.%I AS SELECT %s FROM mart.%I WHERE generation = (SELECT mart.generation())',
            name,
            (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
             WHERE attrelid = format('mart.%I', name || '_generations')::regclass AND attnum > 0
               AND NOT attisdropped AND attname <> 'generation'),
            name || '_generations');
    END LOOP;
END
$$;

CREATE OR REPLACE VIEW mart.cohort_cac AS  -- as migration 082's, with the model
SELECT cohort.grain, cohort.grain_id, cohort.ad_account_id, cohort.campaign_id, cohort.ad_group_id, cohort.ad_id,
       cohort.name, cohort.cohort_month, cohort.spend, cohort.spend_currency, cohort.leads, cohort.won_to_date,
       cohort.cac,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 7, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_7d END AS won_within_7d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 30, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_30d END AS won_within_30d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 90, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_90d END AS won_within_90d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, cohort.window_days, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_window END AS won_within_window,
       cohort.window_days,
       cohort.open_deals, cohort.expected_wins, cohort.expected_revenue, cohort.expected_revenue_currency,
       cohort.open_without_probability, cohort.forecast_cac, cohort.model
FROM mart.cohort_cac_generations AS cohort
WHERE cohort.generation = (SELECT mart.generation());

-- As migration 081's, the model in the three marts' keys (last: it compares only where the rest is equal).
CREATE OR REPLACE FUNCTION mart.index_generation(name text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    partition text := name || '_g' || mart.generation();
    indexes text[] := CASE name  -- 'UNIQUE or nothing|the name after the partition''s|what it indexes'
        WHEN 'deal_attribution' THEN ARRAY['UNIQUE|key|(stable_key)', 'UNIQUE|deal_id|(deal_id)',
                                           '|source_modified_at|(source_modified_at)',
                                           '|reconciled_at|(reconciled_at)']
        WHEN 'performance' THEN ARRAY['UNIQUE|model_key|(grain, grain_id, period, period_start, model)',
                                      '|spend_period_start|(period_start) WHERE ad_days > 0']
        WHEN 'cohort_cac' THEN ARRAY['UNIQUE|model_key|(grain, grain_id, cohort_month, model)']
        WHEN 'truth_vs_platform' THEN ARRAY['UNIQUE|key|(grain, grain_id, week_start)']
        WHEN 'channel_performance' THEN ARRAY['UNIQUE|model_key|(channel_name, period, period_start, model)']
        WHEN 'funnel_entries' THEN ARRAY['UNIQUE|key|(stable_key, pipeline, stage)', '|month|(month_start)']
        WHEN 'funnel' THEN ARRAY['UNIQUE|key|(grain, grain_id, period, period_start, pipeline, stage)']
    END;
    analysed text := CASE name
        WHEN 'deal_attribution' THEN 'stable_key, deal_id, channel, lead_day, won_day, is_won'
        WHEN 'performance' THEN 'grain, grain_id, period, period_start, ad_days, model'
        WHEN 'cohort_cac' THEN 'grain, grain_id, cohort_month, model'
        WHEN 'truth_vs_platform' THEN 'grain, grain_id, week_start'
        WHEN 'channel_performance' THEN 'channel_name, period, period_start, model'
        WHEN 'funnel_entries' THEN 'stable_key, month_start, week_start'
        WHEN 'funnel' THEN 'grain, grain_id, period, period_start'
    END;
    index text;
BEGIN
    FOREACH index IN ARRAY indexes LOOP
        EXECUTE format('CREATE %s INDEX IF NOT EXISTS %I ON mart.%I %s', split_part(index, '|', 1),
                       partition || '_' || split_part(index, '|', 2), partition, split_part(index, '|', 3));
    END LOOP;
    EXECUTE format('ANALYZE mart.%I (%s)', partition, analysed);
END
$$;

-- The generations already written keep unique keys without the model (generation 1's primary keys, later ones'
-- `_key` indexes), which would refuse a first-touch row beside its last-touch one: they become keys with the model.
DO $$
DECLARE
    mart text;
    new_key text;
    old record;
BEGIN
    FOR mart, new_key IN VALUES
        ('performance', '(grain, grain_id, period, period_start, model)'),
        ('cohort_cac', '(grain, grain_id, cohort_month, model)'),
        ('channel_performance', '(channel_name, period, period_start, model)')
    LOOP
        FOR old IN
            SELECT child.relname AS partition, index.relname AS index_name, constraint_.conname
            FROM pg_inherits AS link
            JOIN pg_class AS child ON child.oid = link.inhrelid
            JOIN pg_index AS keys ON keys.indrelid = child.oid AND keys.indisunique
            JOIN pg_class AS index ON index.oid = keys.indexrelid
            LEFT JOIN pg_constraint AS constraint_ ON constraint_.conindid = keys.indexrelid
            WHERE link.inhparent = format('mart.%I', mart || '_generations')::regclass
        LOOP
            IF old.conname IS NOT NULL THEN
                EXECUTE format('ALTER TABLE mart.%I DROP CONSTRAINT %I', old.partition, old.conname);
            ELSE
                EXECUTE format('DROP INDEX mart.%I', old.index_name);
            END IF;
            EXECUTE format('CREATE UNIQUE INDEX %I ON mart.%I %s', old.partition || '_model_key', old.partition,
                           new_key);
        END LOOP;
    END LOOP;
END
$$;
