-- The stage funnel (docs/reconcile.md, "Stage funnel"; docs/data-model.md): two more generation marts beside those of
-- migration 050, written by publish_marts in its one transaction, so readers see them as one run left them.
--   mart.funnel_entries: one row per Pinterest-paid lineage (stable_key) and pipeline stage it entered: when, whether
--     and how fast it went on to a later stage, whether it was lost from it. What the funnel rows are summed from; an
--     incremental run replaces the changed lineages' rows and recomputes only the funnel rows they touch.
--   mart.funnel: per grain, period of entry, pipeline and stage: deals entering, advancing, lost; conversion rate;
--     median days to advance.
CREATE TABLE mart.funnel_entries_generations (
    stable_key          text        NOT NULL,
    ad_account_id       text        NOT NULL,  -- the deal's report account (its days)
    campaign_id         text,
    ad_group_id         text,
    ad_id               text,
    pipeline            text        NOT NULL,
    stage               text        NOT NULL,
    stage_order         integer,
    stage_kind          text        NOT NULL CHECK (stage_kind IN ('open', 'won', 'lost')),
    entered_at          timestamptz NOT NULL,
    entered_day         date        NOT NULL,
    week_start          date        NOT NULL,
    month_start         date        NOT NULL,
    days_to_advance     numeric,               -- NULL: never went on to a later stage
    lost_from           boolean     NOT NULL,  -- the lineage is lost, and this was its last open stage
    generation          bigint      NOT NULL DEFAULT current_setting('pin2deal.marts_generation')::bigint
) PARTITION BY LIST (generation);

CREATE TABLE mart.funnel_generations (
    grain                   text    NOT NULL,
    grain_id                text    NOT NULL,
    ad_account_id           text,
    campaign_id             text,
    ad_group_id             text,
    ad_id                   text,
    name                    text,
    period                  text    NOT NULL,
    period_start            date    NOT NULL,
    period_end              date    NOT NULL,
    pipeline                text    NOT NULL,
    pipeline_label          text,
    stage                   text    NOT NULL,
    stage_label             text,
    stage_order             integer,
    stage_kind              text    NOT NULL,
    entered                 integer NOT NULL CHECK (entered > 0),
    advanced                integer CHECK (advanced <= entered),
    conversion_rate         numeric,
    median_days_to_advance  numeric,
    lost                    integer NOT NULL CHECK (lost <= entered),
    reconciled_at           timestamptz NOT NULL DEFAULT now(),
    generation              bigint  NOT NULL DEFAULT current_setting('pin2deal.marts_generation')::bigint
) PARTITION BY LIST (generation);

-- The published generation (and any other that exists) gets its partitions, empty: the next reconcile rebuilds
-- (its rule files changed) and fills them.
DO $$
DECLARE
    existing bigint;
    name text;
BEGIN
    FOR existing IN
        SELECT DISTINCT substring(child.relname FROM '_g(\d+)$')::bigint
        FROM pg_inherits AS link
        JOIN pg_class AS child ON child.oid = link.inhrelid
        WHERE link.inhparent = 'mart.performance_generations'::regclass
    LOOP
        FOREACH name IN ARRAY ARRAY['funnel_entries', 'funnel'] LOOP
            EXECUTE format('CREATE TABLE mart.%I (LIKE mart.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           name || '_g' || existing, name || '_generations');
            EXECUTE format('ALTER TABLE mart.%I ALTER COLUMN generation SET DEFAULT %s', name || '_g' || existing,
                           existing);
            EXECUTE format('ALTER TABLE mart.%I ATTACH PARTITION mart.%I FOR VALUES IN (%s)', name || '_generations',
                           name || '_g' || existing, existing);
        END LOOP;
    END LOOP;
END
$$;

CREATE VIEW mart.funnel_entries AS
SELECT stable_key, ad_account_id, campaign_id, ad_group_id, ad_id, pipeline, stage, stage_order, stage_kind,
       entered_at, entered_day, week_start, month_start, days_to_advance, lost_from
FROM mart.funnel_entries_generations WHERE generation = (SELECT mart.generation());

CREATE VIEW mart.funnel AS
SELECT grain, grain_id, ad_account_id, campaign_id, ad_group_id, ad_id, name, period, period_start, period_end,
       pipeline, pipeline_label, stage, stage_label, stage_order, stage_kind, entered, advanced, conversion_rate,
       median_days_to_advance, lost, reconciled_at
FROM mart.funnel_generations WHERE generation = (SELECT mart.generation());

-- Every generation now has the funnel's partitions too (the functions of migration 050, with two more marts).
CREATE OR REPLACE FUNCTION mart.create_generation(generation bigint) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    name text;
    partition text;
BEGIN
    FOREACH name IN ARRAY ARRAY['deal_attribution', 'performance', 'cohort_cac', 'truth_vs_platform',
                                'channel_performance', 'funnel_entries', 'funnel'] LOOP
        partition := name || '_g' || generation;
        EXECUTE format('CREATE TABLE mart.%I (LIKE mart.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition,
                       name || '_generations');
        EXECUTE format('ALTER TABLE mart.%I ALTER COLUMN generation SET DEFAULT %s', partition, generation);
        EXECUTE format('ALTER TABLE mart.%I ATTACH PARTITION mart.%I FOR VALUES IN (%s)', name || '_generations',
                       partition, generation);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION mart.index_generation(name text) RETURNS void
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
        WHEN 'funnel_entries' THEN ARRAY['UNIQUE|key|(stable_key, pipeline, stage)', '|month|(month_start)']
        WHEN 'funnel' THEN ARRAY['UNIQUE|key|(grain, grain_id, period, period_start, pipeline, stage)']
    END;
    analysed text := CASE name
        WHEN 'deal_attribution' THEN 'stable_key, deal_id, channel, lead_day, won_day, is_won'
        WHEN 'performance' THEN 'grain, grain_id, period, period_start, ad_days'
        WHEN 'cohort_cac' THEN 'grain, grain_id, cohort_month'
        WHEN 'truth_vs_platform' THEN 'grain, grain_id, week_start'
        WHEN 'channel_performance' THEN 'channel_name, period, period_start'
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
