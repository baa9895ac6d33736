-- Pinterest vs other channels on one metric: per channel (mart.deal_attribution.channel_name) and period, spend
-- (Pinterest: the ad accounts' spend; others: raw.channel_spend), leads (deals created in the period), won (deals won
-- in it), revenue (home currency) and CAC. Another channel's spend is known for a period only when every day of it
-- has a CSV line of the channel: a day without one is unknown spend, never zero, so the period's spend and CAC are
-- NULL (Pinterest's is complete by construction: a day without an ad row spent nothing). Spend in two currencies
-- within one channel and period is never added either: spend, its currency and CAC are NULL there.
-- A rebuild sums every deal's contribution (channel_contributions.sql); an incremental run moves the CRM side by the
-- changed deals' signed contributions (mart.channel_performance_pending) and recomputes the spend of the periods whose
-- spend changed since the last run (Pinterest: the periods reconcile_spend recomputed, mart.performance_spend_periods;
-- others: the periods of the CSV lines loaded since, every line of those periods), rewriting only those rows.
-- Each row per touch model (contributions.sql): the spend the same under both, the CRM side the model's.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
SET LOCAL jit = off;
CREATE TEMP TABLE channel_periods (period text) ON COMMIT DROP;
INSERT INTO channel_periods VALUES ('day'), ('week'), ('month');
CREATE TEMP TABLE channel_models (model text) ON COMMIT DROP;
INSERT INTO channel_models VALUES ('last_touch'), ('first_touch');

-- CRM: every deal's contributions (rebuild) or the pending changes (incremental), per channel and period.
CREATE TEMP TABLE channel_crm ON COMMIT DROP AS
SELECT crm_days.model, crm_days.channel_name, periods.period, mart.period_start(periods.period, crm_days.day) AS period_start,
       sum(crm_days.leads)::integer AS leads, sum(crm_days.won)::integer AS won, sum(crm_days.revenue) AS revenue
FROM (
    SELECT model, channel_name, day, sum(leads) AS leads, sum(won) AS won, sum(revenue) AS revenue
    {% if full %}
    FROM (
        SELECT models, channel_name, day, sum(leads) AS leads, sum(won) AS won, sum(revenue) AS revenue
        FROM mart.deal_channel_contributions
        GROUP BY models, channel_name, day
    ) AS touches
    CROSS JOIN LATERAL unnest(touches.models) AS model
    {% else %}
    FROM mart.channel_performance_pending
    {% endif %}
    GROUP BY model, channel_name, day
) AS crm_days
CROSS JOIN channel_periods AS periods
GROUP BY 1, 2, 3, 4;
TRUNCATE mart.channel_performance_pending;

{% if not full %}
-- The rows this run rewrites: those the CRM changes move, and the periods whose spend changed since the last run.
CREATE TEMP TABLE channel_touched ON COMMIT DROP AS
SELECT model, channel_name, period, period_start FROM channel_crm
UNION
SELECT models.model, 'pinterest', period, period_start
FROM mart.performance_spend_periods CROSS JOIN channel_models AS models WHERE run_id = %(run_id)s
UNION
SELECT models.model, lower(changed.channel), periods.period, mart.period_start(periods.period, changed.day)
FROM raw.channel_spend AS changed
CROSS JOIN channel_periods AS periods
CROSS JOIN channel_models AS models
WHERE changed.loaded_at >= (SELECT since FROM ops.reconcile_runs WHERE run_id = %(run_id)s);

CREATE TEMP TABLE channel_old ON COMMIT DROP AS
SELECT old.* FROM mart.channel_performance AS old
JOIN channel_touched USING (model, channel_name, period, period_start);

DELETE FROM mart.channel_performance AS old
USING channel_touched AS touched
WHERE old.model = touched.model AND old.channel_name = touched.channel_name AND old.period = touched.period
  AND old.period_start = touched.period_start;
{% endif %}

INSERT INTO mart.channel_performance (
    channel_name, period, period_start, period_end, spend, spend_currency, leads, won, revenue, revenue_currency, cac,
    model
)
WITH spend_lines AS (
    SELECT 'pinterest' AS channel_name, performance.period, performance.period_start, NULL::date AS day,
           performance.spend, performance.spend_currency AS currency
    FROM mart.performance
    {% if not full %}
    JOIN (SELECT DISTINCT channel_name, period, period_start FROM channel_touched) AS touched
      ON touched.channel_name = 'pinterest' AND touched.period = performance.period
     AND touched.period_start = performance.period_start
    {% endif %}
    WHERE performance.model = 'last_touch' AND performance.grain = 'account' AND performance.ad_days > 0
    UNION ALL
    SELECT lower(channel_spend.channel), periods.period, mart.period_start(periods.period, channel_spend.day),
           channel_spend.day, channel_spend.spend, channel_spend.currency
    FROM raw.channel_spend
    CROSS JOIN channel_periods AS periods
    {% if not full %}
    WHERE (lower(channel_spend.channel), periods.period, mart.period_start(periods.period, channel_spend.day))
          IN (SELECT channel_name, period, period_start FROM channel_touched)
    {% endif %}
),
spend AS (
    SELECT channel_name, period, period_start,
           CASE WHEN known THEN total END AS spend, CASE WHEN known THEN currency END AS spend_currency
    FROM (
        SELECT channel_name, period, period_start, sum(spend) AS total, min(currency) AS currency,
               count(DISTINCT currency) = 1
                   AND (channel_name = 'pinterest'
                        OR count(DISTINCT day) = mart.period_end(period, period_start) - period_start) AS known
        FROM spend_lines
        GROUP BY channel_name, period, period_start
    ) AS summed
),
-- The spend under each model (the same), for the rows this run writes.
model_spend AS (
    SELECT spend.*, models.model FROM spend CROSS JOIN channel_models AS models
    {% if not full %}
    WHERE (models.model, spend.channel_name, spend.period, spend.period_start)
          IN (SELECT model, channel_name, period, period_start FROM channel_touched)
    {% endif %}
),
crm AS (
    {% if full %}
    SELECT * FROM channel_crm
    {% else %}
    -- The rewritten rows' CRM side: as they were, moved by the changes; a row no deal counts in any more has none.
    SELECT touched.model, touched.channel_name, touched.period, touched.period_start,
           COALESCE(old.leads, 0) + COALESCE(delta.leads, 0) AS leads,
           COALESCE(old.won, 0) + COALESCE(delta.won, 0) AS won,
           COALESCE(old.revenue, 0) + COALESCE(delta.revenue, 0) AS revenue
    FROM channel_touched AS touched
    LEFT JOIN channel_old AS old USING (model, channel_name, period, period_start)
    LEFT JOIN channel_crm AS delta USING (model, channel_name, period, period_start)
    WHERE COALESCE(old.leads, 0) + COALESCE(delta.leads, 0) + COALESCE(old.won, 0) + COALESCE(delta.won, 0) > 0
    {% endif %}
)
SELECT channel_name, period, period_start, mart.period_end(period, period_start),
       spend.spend, spend.spend_currency, COALESCE(crm.leads, 0), COALESCE(crm.won, 0), COALESCE(crm.revenue, 0),
       %(home_currency)s, mart.cac(spend.spend, crm.won), model
FROM crm
FULL JOIN model_spend AS spend USING (model, channel_name, period, period_start);
