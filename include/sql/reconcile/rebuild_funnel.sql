-- rebuild_funnel: a full rebuild's stage funnel (mart.funnel_entries, mart.funnel) written into the run's new
-- generation in a task of its own, beside rebuild_performance on the other core (it reads the deal rows, not
-- mart.performance). As rebuild_performance.sql: nobody reads the generation before publish_marts publishes it; a
-- cleared or retried task empties what it wrote first; an incremental run writes nothing here (publish_marts does, in
-- its one transaction).
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
{% if full %}
SELECT mart.use_run_generation(%(run_id)s);
-- The settings it ran under in publish_marts, after performance.sql's: memory for its hashes and index builds, no
-- JIT, hash joins.
SET LOCAL work_mem = '512MB';
SET LOCAL jit = off;
SET LOCAL maintenance_work_mem = '1GB';
SET LOCAL enable_mergejoin = off;
DELETE FROM mart.funnel_entries;
DELETE FROM mart.funnel;
{% include 'reconcile/funnel.sql' %}
{% else %}
SELECT 'incremental run: publish_marts writes the stage funnel in its transaction' AS nothing_to_do;
{% endif %}
