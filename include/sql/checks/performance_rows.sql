-- Blocking, in publish_marts before it publishes: every mart.performance row the run wrote keeps the mart's contract
-- (docs/data-model.md): spend, leads, won deals and cohort counts never negative (an incremental run that drifted
-- from what a rebuild gives fails here), CAC only with won deals, ROAS only with spend, cohort wins within leads.
-- A rebuild checks every row of its generation; an incremental run the rows it rewrote (reconcile_touched, in its
-- transaction), so the cost follows what changed. Fails naming the first rows and the rule each breaks.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
SELECT count(*) = 0 AS passed,
       COALESCE(string_agg(broken.grain || ' ' || broken.grain_id || ' ' || broken.period || ' '
                           || broken.period_start || ': ' || broken.rule, '; '), 'none') AS offending
FROM (
    SELECT performance.grain, performance.grain_id, performance.period, performance.period_start,
           CASE WHEN LEAST(performance.spend, performance.leads, performance.won, performance.leads_won_to_date,
                           performance.pinterest_won) < 0 THEN 'a negative count or spend'
                WHEN performance.won <= 0 AND performance.cac IS NOT NULL THEN 'CAC without a won deal'
                WHEN performance.spend <= 0 AND performance.roas IS NOT NULL THEN 'ROAS without spend'
                ELSE 'more cohort wins than leads'
           END AS rule
    FROM mart.performance
    {% if not full %}
    JOIN reconcile_touched AS touched USING (grain, grain_id, period, period_start)
    {% endif %}
    WHERE LEAST(performance.spend, performance.leads, performance.won, performance.leads_won_to_date,
                performance.pinterest_won) < 0
       OR (performance.won <= 0 AND performance.cac IS NOT NULL)
       OR (performance.spend <= 0 AND performance.roas IS NOT NULL)
       OR performance.leads_won_to_date > performance.leads
    ORDER BY performance.grain, performance.grain_id, performance.period, performance.period_start
    LIMIT 20
) AS broken
