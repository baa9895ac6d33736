-- publish_marts: everything readers see changes here, in one transaction, after the blocking checks (docs/reconcile.md,
-- "What readers see"). A rebuild's new generation is whole by now (reconcile_deals, rebuild_performance and
-- rebuild_funnel wrote it): this task checks it and points ops.mart_publication at it. An incremental run moves the
-- deals reconcile_deals staged into the published generation and rewrites the rows they and the re-pulled spend touch
-- there (mart.performance, its cohort and truth-vs-platform rows, mart.channel_performance, the stage funnel). A failed check (or a row breaking mart.performance's constraints) rolls all of
-- it back: readers stay on the last published state, and the next run reconciles this run's changes again (its
-- `since` is still the last published run's).
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
SELECT mart.use_run_generation(%(run_id)s);
-- The deal counts of the state about to be published, moved by the deals this run replaces and adds.
CREATE TEMP TABLE reconcile_deal_counts (deals bigint, paid bigint, unresolved bigint) ON COMMIT DROP;
{% if full %}
INSERT INTO reconcile_deal_counts
SELECT count(*), count(*) FILTER (WHERE channel = 'pinterest_paid'),
       count(*) FILTER (WHERE channel = 'pinterest_paid' AND campaign_resolved_by = 'unresolved')
FROM mart.deal_attribution;
{% else %}
INSERT INTO reconcile_deal_counts SELECT deals, paid_deals, unresolved_paid_deals FROM ops.mart_publication;
-- The lineages whose funnel entries this run replaces (funnel.sql).
CREATE TEMP TABLE reconcile_funnel_lineages ON COMMIT DROP AS
SELECT stable_key FROM mart.deal_attribution_replaced
UNION
SELECT stable_key FROM mart.deal_attribution_generations WHERE generation = 0;
ANALYZE reconcile_funnel_lineages;
WITH replaced AS (
    DELETE FROM mart.deal_attribution WHERE stable_key IN (SELECT stable_key FROM mart.deal_attribution_replaced)
    RETURNING channel, campaign_resolved_by
)
INSERT INTO reconcile_deal_counts
SELECT -count(*), -count(*) FILTER (WHERE channel = 'pinterest_paid'),
       -count(*) FILTER (WHERE channel = 'pinterest_paid' AND campaign_resolved_by = 'unresolved')
FROM replaced;
WITH staged AS (
    -- Stamped with the publication's time: what the Conversions API fill looks for (include/sql/capi/fill_outbox.sql).
    UPDATE mart.deal_attribution_generations SET generation = mart.generation(), reconciled_at = now()
    WHERE generation = 0
    RETURNING channel, campaign_resolved_by
)
INSERT INTO reconcile_deal_counts
SELECT count(*), count(*) FILTER (WHERE channel = 'pinterest_paid'),
       count(*) FILTER (WHERE channel = 'pinterest_paid' AND campaign_resolved_by = 'unresolved')
FROM staged;
TRUNCATE mart.deal_attribution_replaced;
{% endif %}
CREATE TEMP TABLE reconcile_published_deals ON COMMIT DROP AS
SELECT sum(deals) AS deals, sum(paid) AS paid_deals, sum(unresolved) AS unresolved_paid_deals
FROM reconcile_deal_counts;

{% if not full %}
-- An incremental run writes the marts here, in this one transaction. A rebuild's are written by rebuild_performance
-- and rebuild_funnel (the same files) before this task: its generation is unpublished until the end of this one.
{% include 'reconcile/performance.sql' %}
{% include 'reconcile/cohort_cac.sql' %}
{% include 'reconcile/truth_vs_platform.sql' %}
{% include 'reconcile/channel_performance.sql' %}
{% include 'reconcile/funnel.sql' %}
{% endif %}

-- The blocking check (include/sql/checks/): failed, it fails this statement, naming the rows. (Every row written to
-- mart.performance was checked against the mart's contract as it was written: its constraints, migration 050.)
SELECT ops.require(result.passed, 'blocking check unresolved_paid_share failed, nothing was published: '
                                  || result.offending)
FROM (
{% include 'checks/unresolved_paid_share.sql' %}
) AS result;

-- Publish: readers whose snapshot sees this row see this generation, as this transaction left it.
INSERT INTO ops.mart_publication AS publication (
    generation, run_id, published_at, published_xid, deals, paid_deals, unresolved_paid_deals
)
SELECT mart.generation(), %(run_id)s, now(), (pg_current_xact_id()::text::bigint %% 4294967296)::text::xid,
       totals.deals, totals.paid_deals, totals.unresolved_paid_deals
FROM reconcile_published_deals AS totals
ON CONFLICT (singleton) DO UPDATE SET
    generation = EXCLUDED.generation, run_id = EXCLUDED.run_id, published_at = EXCLUDED.published_at,
    published_xid = EXCLUDED.published_xid, deals = EXCLUDED.deals, paid_deals = EXCLUDED.paid_deals,
    unresolved_paid_deals = EXCLUDED.unresolved_paid_deals;
UPDATE ops.reconcile_runs SET published_at = now() WHERE run_id = %(run_id)s;
