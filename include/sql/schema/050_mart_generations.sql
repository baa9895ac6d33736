-- Published marts (docs/reconcile.md, "What readers see"). Readers (the briefing, the UI page, the Conversions API
-- sender) must never see a state between two committed states of a reconcile run, nor one whose blocking checks
-- failed, and a full rebuild must not empty what they read (TRUNCATE is not MVCC-safe: a transaction whose snapshot
-- predates the truncate's commit sees the table empty).
--
-- So each mart is a partitioned table of generations (`mart.<mart>_generations`, one partition
-- `mart.<mart>_g<N>` per generation) and `mart.<mart>` is a view of one generation: the one the session works on
-- (`pin2deal.marts_generation`, set by the reconcile's steps), else the published one (`ops.mart_publication`,
-- read in the reader's own snapshot). A full rebuild fills a new, empty generation nobody reads; an incremental run
-- changes the published generation in one transaction. Publishing is one row update in that transaction, after the
-- blocking checks: a reader's snapshot sees the old generation and its rows, or the new ones, never a mix.
-- Generation 0 of mart.deal_attribution holds the changed deals an incremental reconcile_deals stages for
-- publish_marts. Generations nobody can read any more are dropped by the reconcile (pin2deal.reconcile.generations).

-- The published generation: one row.
CREATE TABLE ops.mart_publication (
    singleton              boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    generation             bigint      NOT NULL,
    run_id                 text,                  -- the reconcile run that published last (NULL: the migration)
    published_at           timestamptz NOT NULL DEFAULT now(),
    published_xid          xid,                   -- that run's publishing transaction: an older snapshot may still
                                                  -- read a generation it unpublished
    deals                  bigint      NOT NULL DEFAULT 0,  -- rows of mart.deal_attribution in the generation
    paid_deals             bigint      NOT NULL DEFAULT 0,  -- of them Pinterest paid
    unresolved_paid_deals  bigint      NOT NULL DEFAULT 0   -- of those, campaign unresolved (a blocking check)
);
CREATE SEQUENCE ops.mart_generations START 2;
ALTER TABLE ops.reconcile_runs
    ADD COLUMN generation bigint,           -- the generation the run writes (a full rebuild: a new one)
    ADD COLUMN published_at timestamptz;    -- when its publish_marts committed

-- The generation `mart.<mart>` shows in this session: the one a reconcile step works on, else the published one.
CREATE FUNCTION mart.generation() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT COALESCE(NULLIF(current_setting('pin2deal.marts_generation', true), '')::bigint,
                          (SELECT generation FROM ops.mart_publication)) $$;

-- Work on `generation` until the end of the transaction.
CREATE FUNCTION mart.use_generation(generation bigint) RETURNS bigint
    LANGUAGE sql VOLATILE
    AS $$ SELECT set_config('pin2deal.marts_generation', generation::text, true)::bigint $$;

-- Work on the generation a reconcile run writes (ops.reconcile_runs.generation, decided by its plan). A rebuild's
-- tasks never write its generation again once it is published (readers would see them one by one).
CREATE FUNCTION mart.use_run_generation(run_id text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    run record;
BEGIN
    SELECT runs.generation, runs.mode, runs.published_at INTO run
    FROM ops.reconcile_runs AS runs WHERE runs.run_id = use_run_generation.run_id;
    IF run.generation IS NULL THEN
        RAISE EXCEPTION 'reconcile run % has no generation (plan_reconcile did not plan it)', run_id;
    END IF;
    IF run.mode = 'full' AND run.published_at IS NOT NULL THEN
        RAISE EXCEPTION 'reconcile run % published its rebuild (generation %): trigger a new run instead of clearing '
                        'its tasks', run_id, run.generation;
    END IF;
    RETURN mart.use_generation(run.generation);
END
$$;

-- Every mart becomes generation 1 of its partitioned table (its rows and indexes kept), published.
DROP VIEW IF EXISTS mart.time_to_close, mart.deal_time_to_close, mart.deal_contributions,
    mart.deal_channel_contributions;  -- define_rules re-creates them on the views
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['deal_attribution', 'performance', 'cohort_cac', 'truth_vs_platform',
                                'channel_performance'] LOOP
        EXECUTE format(
            'CREATE TABLE mart.%I (LIKE mart.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS, '
            'generation bigint NOT NULL DEFAULT current_setting(''pin2deal.marts_generation'')::bigint) '
            'PARTITION BY LIST (generation)', name || '_generations', name);
        EXECUTE format('ALTER TABLE mart.%I ADD COLUMN generation bigint NOT NULL DEFAULT 1', name);
        EXECUTE format('ALTER TABLE mart.%I RENAME TO %I', name, name || '_g1');
        EXECUTE format('ALTER TABLE mart.%I ATTACH PARTITION mart.%I FOR VALUES IN (1)', name || '_generations',
                       name || '_g1');
        EXECUTE format(
            'CREATE VIEW mart.%I AS SELECT %s FROM mart.%I WHERE generation = (SELECT mart.generation())',
            name,
            (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
             WHERE attrelid = format('mart.%I', name || '_generations')::regclass AND attnum > 0
               AND NOT attisdropped AND attname <> 'generation'),
            name || '_generations');
    END LOOP;
END
$$;
-- The contract of mart.performance (docs/data-model.md), checked on every row written, so the check costs what a
-- run writes, not the history: counts never negative (an incremental run that drifted from what a rebuild gives
-- fails here), CAC only with won deals, ROAS only with spend, cohort wins within leads. A failing row fails the
-- run's publish_marts, naming the row; nothing is published. (Rows written before this migration are not checked.)
ALTER TABLE mart.performance_generations
    ADD CONSTRAINT performance_counts_not_negative
        CHECK (spend >= 0 AND leads >= 0 AND won >= 0 AND leads_won_to_date >= 0 AND pinterest_won >= 0) NOT VALID,
    ADD CONSTRAINT performance_cac_only_with_won CHECK (won > 0 OR cac IS NULL) NOT VALID,
    ADD CONSTRAINT performance_roas_only_with_spend CHECK (spend > 0 OR roas IS NULL) NOT VALID,
    ADD CONSTRAINT performance_cohort_within_leads CHECK (leads_won_to_date <= leads) NOT VALID;
INSERT INTO ops.mart_publication (generation, deals, paid_deals, unresolved_paid_deals)
SELECT 1, count(*), count(*) FILTER (WHERE channel = 'pinterest_paid'),
       count(*) FILTER (WHERE channel = 'pinterest_paid' AND campaign_resolved_by = 'unresolved')
FROM mart.deal_attribution_g1;

-- Create generation `generation` of every mart: empty partitions, attached at once (nothing reads them before a
-- publish points there), without indexes (index_generation builds them after the rows).
CREATE FUNCTION mart.create_generation(generation bigint) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    name text;
    partition text;
BEGIN
    FOREACH name IN ARRAY ARRAY['deal_attribution', 'performance', 'cohort_cac', 'truth_vs_platform',
                                'channel_performance'] LOOP
        partition := name || '_g' || generation;
        EXECUTE format('CREATE TABLE mart.%I (LIKE mart.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition,
                       name || '_generations');
        EXECUTE format('ALTER TABLE mart.%I ALTER COLUMN generation SET DEFAULT %s', partition, generation);
        EXECUTE format('ALTER TABLE mart.%I ATTACH PARTITION mart.%I FOR VALUES IN (%s)', name || '_generations',
                       partition, generation);
    END LOOP;
END
$$;

-- Build the indexes of one mart in the generation this session works on, after its rows are written (as one sorted
-- build each; kept when they exist, as when a task is run again), and the statistics of the columns readers and the
-- reconcile select by. The marts' keys and lookups, as 020, 022, 026 and 045 defined them on the tables.
CREATE FUNCTION mart.index_generation(name text) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    partition text := name || '_g' || mart.generation();
    indexes text[] := CASE name  -- 'UNIQUE or nothing|the name after the partition''s|what it indexes'
        WHEN 'deal_attribution' THEN ARRAY['UNIQUE|key|(stable_key)', 'UNIQUE|deal_id|(deal_id)',
                                           '|source_modified_at|(source_modified_at)',
                                           '|reconciled_at|(reconciled_at)']
        WHEN 'performance' THEN ARRAY['UNIQUE|key|(grain, grain_id, period, period_start)',
                                      '|spend_period_start|(period_start) WHERE ad_days > 0']
        WHEN 'cohort_cac' THEN ARRAY['UNIQUE|key|(grain, grain_id, cohort_month)']
        WHEN 'truth_vs_platform' THEN ARRAY['UNIQUE|key|(grain, grain_id, week_start)']
        WHEN 'channel_performance' THEN ARRAY['UNIQUE|key|(channel_name, period, period_start)']
    END;
    analysed text := CASE name
        WHEN 'deal_attribution' THEN 'stable_key, deal_id, channel, lead_day, won_day, is_won'
        WHEN 'performance' THEN 'grain, grain_id, period, period_start, ad_days'
        WHEN 'cohort_cac' THEN 'grain, grain_id, cohort_month'
        WHEN 'truth_vs_platform' THEN 'grain, grain_id, week_start'
        WHEN 'channel_performance' THEN 'channel_name, period, period_start'
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

-- Generation 0 of mart.deal_attribution: the changed deals an incremental reconcile_deals staged, and the keys of
-- the published rows they replace; publish_marts moves them into the published generation.
CREATE TABLE mart.deal_attribution_g0 (LIKE mart.deal_attribution_generations INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE mart.deal_attribution_g0 ALTER COLUMN generation SET DEFAULT 0;
ALTER TABLE mart.deal_attribution_generations ATTACH PARTITION mart.deal_attribution_g0 FOR VALUES IN (0);
CREATE UNIQUE INDEX ON mart.deal_attribution_g0 (stable_key);
CREATE INDEX ON mart.deal_attribution_g0 (deal_id);
CREATE TABLE mart.deal_attribution_replaced (stable_key text PRIMARY KEY);
