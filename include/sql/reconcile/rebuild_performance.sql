-- rebuild_performance: a full rebuild's mart.performance, with the cohort CAC, truth-vs-platform and channel rows read
-- from it, written into the run's new generation in a task of its own, beside rebuild_funnel on the other core
-- (docs/reconcile.md, "What readers see"). Nobody reads that generation before publish_marts publishes it, so it need
-- not be written in publish_marts' transaction; use_run_generation refuses a generation already published. A cleared
-- or retried task empties what it wrote in the generation first. An incremental run writes nothing here:
-- publish_marts writes the same files in its one transaction, so readers never see half a change.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
{% if full %}
SELECT mart.use_run_generation(%(run_id)s);
DELETE FROM mart.performance_generations WHERE generation = mart.generation();  -- the view shows synthesised rows too
DELETE FROM mart.cohort_cac;
DELETE FROM mart.truth_vs_platform;
DELETE FROM mart.channel_performance;
{% include 'reconcile/performance.sql' %}
{% include 'reconcile/cohort_cac.sql' %}
{% include 'reconcile/truth_vs_platform.sql' %}
{% include 'reconcile/channel_performance.sql' %}
SELECT mart.index_generation('cohort_cac'), mart.index_generation('truth_vs_platform'),
       mart.index_generation('channel_performance');
{% else %}
SELECT 'incremental run: publish_marts writes these marts in its transaction' AS nothing_to_do;
{% endif %}
