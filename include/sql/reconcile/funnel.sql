-- Rule: the stage funnel (docs/attribution.md, "Stage funnel"). Runs in publish_marts' transaction, after the deals
-- moved in. Counted per lineage (stable_key), never per deal id: a CRM migration's re-created deal or a merge's
-- survivor is the same sale.
-- A lineage's stage entries: every hs_v2_date_entered_<stage> of its deals (the current one, the earlier ids of its
-- key, the deals merged into it) in its current pipeline, the earliest per stage; an entry into a deal's current
-- stage at the deal's own creation instant by a deal that took its key over (an import's instant: docs/hubspot.md)
-- is no entry. A won lineage enters its closed-won stage at its won moment (mart.deal_attribution.won_at), as the
-- won rule and CAC count it.
-- Per entry: it *advanced* when the lineage later entered a later stage (display order) that is not a lost stage
-- (days_to_advance: to the first such entry); it was *lost from* it when the lineage is now in a lost stage and this
-- was the open stage it entered last. Periods are the weeks and months of the entry day (the ad account's days).
-- Full rebuild: every Pinterest-paid lineage. Incremental: the lineages of the deals this run replaced and added;
-- only the funnel rows their old and new entries fall in are recomputed, from mart.funnel_entries.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
CREATE TEMP TABLE reconcile_funnel_touched (
    grain text, grain_id text, period text, period_start date
) ON COMMIT DROP;
{% if not full %}
INSERT INTO reconcile_funnel_touched
SELECT DISTINCT level.grain, level.grain_id, period.period,
       CASE period.period WHEN 'week' THEN entry.week_start ELSE entry.month_start END
FROM mart.funnel_entries AS entry
CROSS JOIN LATERAL (
    VALUES ('account', entry.ad_account_id), ('campaign', entry.campaign_id), ('ad_group', entry.ad_group_id),
           ('ad', entry.ad_id)
) AS level (grain, grain_id)
CROSS JOIN (VALUES ('week'), ('month')) AS period (period)
WHERE entry.stable_key IN (SELECT stable_key FROM reconcile_funnel_lineages) AND level.grain_id IS NOT NULL;

DELETE FROM mart.funnel_entries WHERE stable_key IN (SELECT stable_key FROM reconcile_funnel_lineages);
{% endif %}

CREATE TEMP TABLE reconcile_funnel_lineage ON COMMIT DROP AS
SELECT deal.stable_key, deal.deal_id, deal.pipeline, deal.dealstage, deal.is_won, deal.won_at,
       deal.report_account_id, deal.campaign_id, deal.ad_group_id, deal.ad_id,
       COALESCE(account.timezone, 'UTC') AS timezone
FROM mart.deal_attribution AS deal
LEFT JOIN raw.pinterest_ad_accounts AS account ON account.ad_account_id = deal.report_account_id
WHERE deal.channel = 'pinterest_paid' AND deal.report_account_id IS NOT NULL AND deal.pipeline IS NOT NULL
{% if not full %}
  AND deal.stable_key IN (SELECT stable_key FROM reconcile_funnel_lineages)
{% endif %}
;

CREATE TEMP TABLE reconcile_funnel_stage ON COMMIT DROP AS
WITH member AS (  -- the lineage's deals
    SELECT lineage.stable_key, ids.deal_id
    FROM reconcile_funnel_lineage AS lineage
    JOIN raw.hubspot_deal_ids AS ids ON ids.stable_key = lineage.stable_key AND ids.via = 'self'
    UNION
    SELECT lineage.stable_key, merged.deal_id
    FROM reconcile_funnel_lineage AS lineage
    JOIN raw.hubspot_deals AS merged ON merged.merged_into_deal_id = lineage.deal_id
),
entry AS (
    SELECT member.stable_key, recorded.key AS stage, recorded.value::timestamptz AS entered_at
    FROM member
    JOIN raw.hubspot_deals AS deal ON deal.deal_id = member.deal_id
    LEFT JOIN raw.hubspot_deal_ids AS own ON own.deal_id = deal.deal_id AND own.via = 'self'
    CROSS JOIN LATERAL jsonb_each_text(deal.stage_entered_at) AS recorded (key, value)
    WHERE NOT (
        recorded.key = deal.dealstage AND own.stable_key <> 'hubspot:' || deal.deal_id
        AND COALESCE(abs(extract(epoch FROM recorded.value::timestamptz - deal.created_at)) <= 1
                     OR abs(extract(epoch FROM recorded.value::timestamptz - deal.hubspot_created_at)) <= 1, false)
    )
)
SELECT lineage.stable_key, lineage.report_account_id, lineage.campaign_id, lineage.ad_group_id, lineage.ad_id,
       lineage.pipeline, stage.stage_id AS stage, stage.display_order AS stage_order,
       CASE WHEN stage.is_closed_won THEN 'won' WHEN stage.is_closed THEN 'lost' ELSE 'open' END AS stage_kind,
       CASE WHEN lineage.is_won AND stage.stage_id = lineage.dealstage THEN lineage.won_at
            ELSE min(entry.entered_at) END AS entered_at,
       lineage.timezone,
       current_stage.is_closed AND NOT current_stage.is_closed_won AS lineage_lost
FROM reconcile_funnel_lineage AS lineage
JOIN raw.hubspot_pipeline_stages AS stage ON stage.pipeline_id = lineage.pipeline
LEFT JOIN raw.hubspot_pipeline_stages AS current_stage
       ON current_stage.pipeline_id = lineage.pipeline AND current_stage.stage_id = lineage.dealstage
LEFT JOIN entry ON entry.stable_key = lineage.stable_key AND entry.stage = stage.stage_id
GROUP BY lineage.stable_key, lineage.report_account_id, lineage.campaign_id, lineage.ad_group_id, lineage.ad_id,
         lineage.pipeline, lineage.dealstage, lineage.is_won, lineage.won_at, lineage.timezone, stage.stage_id,
         stage.display_order, stage.is_closed_won, stage.is_closed, current_stage.is_closed,
         current_stage.is_closed_won
HAVING min(entry.entered_at) IS NOT NULL OR (lineage.is_won AND stage.stage_id = lineage.dealstage);
ANALYZE reconcile_funnel_stage;

INSERT INTO mart.funnel_entries (
    stable_key, ad_account_id, campaign_id, ad_group_id, ad_id, pipeline, stage, stage_order, stage_kind,
    entered_at, entered_day, week_start, month_start, days_to_advance, lost_from
)
WITH advance AS (  -- each open entry's first later entry into a later, not-lost stage (hashed by lineage)
    SELECT entry.stable_key, entry.stage, min(later.entered_at) AS advanced_at
    FROM reconcile_funnel_stage AS entry
    JOIN reconcile_funnel_stage AS later
      ON later.stable_key = entry.stable_key AND later.stage_order > entry.stage_order
     AND later.stage_kind <> 'lost' AND later.entered_at >= entry.entered_at
    WHERE entry.stage_kind = 'open'
    GROUP BY entry.stable_key, entry.stage
),
lost_open AS (  -- a lost lineage's open entries, beside its last entry instant
    SELECT stable_key, stage, stage_order, entered_at, max(entered_at) OVER (PARTITION BY stable_key) AS last_entered_at
    FROM reconcile_funnel_stage
    WHERE stage_kind = 'open' AND lineage_lost
),
last_open AS (  -- the open stage(s) it was lost from: entered last, no later display order at that instant (a tie
                -- in both, or a stage without an order, is lost from each)
    SELECT stable_key, stage
    FROM (
        SELECT stable_key, stage, stage_order, max(stage_order) OVER (PARTITION BY stable_key) AS last_order
        FROM lost_open
        WHERE entered_at = last_entered_at
    ) AS latest
    WHERE stage_order IS NULL OR stage_order = last_order
)
SELECT entry.stable_key, entry.report_account_id, entry.campaign_id, entry.ad_group_id, entry.ad_id, entry.pipeline,
       entry.stage, entry.stage_order, entry.stage_kind, entry.entered_at, day.day,
       mart.period_start('week', day.day), mart.period_start('month', day.day),
       round(extract(epoch FROM advance.advanced_at - entry.entered_at) / 86400, 4),
       last_open.stage IS NOT NULL
FROM reconcile_funnel_stage AS entry
CROSS JOIN LATERAL (SELECT (entry.entered_at AT TIME ZONE entry.timezone)::date AS day) AS day
LEFT JOIN advance ON advance.stable_key = entry.stable_key AND advance.stage = entry.stage
LEFT JOIN last_open ON last_open.stable_key = entry.stable_key AND last_open.stage = entry.stage
WHERE entry.entered_at IS NOT NULL;

{% if full %}
SELECT mart.index_generation('funnel_entries');
{% else %}
INSERT INTO reconcile_funnel_touched
SELECT DISTINCT level.grain, level.grain_id, period.period,
       CASE period.period WHEN 'week' THEN entry.week_start ELSE entry.month_start END
FROM mart.funnel_entries AS entry
CROSS JOIN LATERAL (
    VALUES ('account', entry.ad_account_id), ('campaign', entry.campaign_id), ('ad_group', entry.ad_group_id),
           ('ad', entry.ad_id)
) AS level (grain, grain_id)
CROSS JOIN (VALUES ('week'), ('month')) AS period (period)
WHERE entry.stable_key IN (SELECT stable_key FROM reconcile_funnel_lineages) AND level.grain_id IS NOT NULL;
ANALYZE reconcile_funnel_touched;

DELETE FROM mart.funnel AS funnel
USING reconcile_funnel_touched AS touched
WHERE funnel.grain = touched.grain AND funnel.grain_id = touched.grain_id AND funnel.period = touched.period
  AND funnel.period_start = touched.period_start;
{% endif %}

-- The funnel rows: every one on a rebuild, else those touched, summed from the entries of their periods: each entry
-- counts once per grain (its ad account, campaign, ad group, ad) and period (its week, its month). An incremental
-- run finds the entries of each touched row by one hash join per grain and period (the planner cannot see through
-- an expansion of every entry into its eight rows, and looped over the touched rows inside it: minutes at 1,000,000
-- deals). A median needs every entry of its row, so a touched row is summed whole.
{% set levels = [('account', 'ad_account_id'), ('campaign', 'campaign_id'), ('ad_group', 'ad_group_id'), ('ad', 'ad_id')] %}
{% set periods = [('week', 'week_start'), ('month', 'month_start')] %}
SET LOCAL enable_nestloop = off;
INSERT INTO mart.funnel (
    grain, grain_id, ad_account_id, campaign_id, ad_group_id, ad_id, name, period, period_start, period_end,
    pipeline, pipeline_label, stage, stage_label, stage_order, stage_kind, entered, advanced, conversion_rate,
    median_days_to_advance, lost
)
WITH counted AS (
{% for grain, id_column in levels %}{% for period, start_column in periods %}
    SELECT '{{ grain }}' AS grain, entry.{{ id_column }} AS grain_id, '{{ period }}' AS period,
           entry.{{ start_column }} AS period_start, entry.pipeline, entry.stage, entry.stage_kind,
           entry.days_to_advance, entry.lost_from
    FROM mart.funnel_entries AS entry
{% if full %}
    WHERE entry.{{ id_column }} IS NOT NULL
{% else %}
    JOIN (SELECT DISTINCT grain_id, period_start FROM reconcile_funnel_touched
          WHERE grain = '{{ grain }}' AND period = '{{ period }}') AS touched
      ON touched.grain_id = entry.{{ id_column }} AND touched.period_start = entry.{{ start_column }}
{% endif %}
{% if not (loop.last and grain == 'ad') %}    UNION ALL{% endif %}
{% endfor %}{% endfor %}
)
SELECT summed.grain, summed.grain_id, entity.ad_account_id, entity.campaign_id, entity.ad_group_id,
       CASE WHEN summed.grain = 'ad' THEN summed.grain_id END, entity.name, summed.period, summed.period_start,
       mart.period_end(summed.period, summed.period_start), summed.pipeline, stage.pipeline_label, summed.stage,
       stage.label, stage.display_order, summed.stage_kind, summed.entered,
       CASE WHEN summed.stage_kind = 'open' THEN summed.advanced END,
       CASE WHEN summed.stage_kind = 'open' THEN round(summed.advanced::numeric / summed.entered, 4) END,
       round(median.median_days_to_advance::numeric, 2), summed.lost
FROM (
    -- Counted in one hashed pass; the median sorts only the entries that advanced. Grouped in byte order ("C"):
    -- the median's sort compares these keys, and locale-aware comparisons cost several times more; the values are
    -- the same.
    SELECT entry.grain COLLATE "C" AS grain, entry.grain_id COLLATE "C" AS grain_id,
           entry.period COLLATE "C" AS period, entry.period_start, entry.pipeline COLLATE "C" AS pipeline,
           entry.stage COLLATE "C" AS stage, entry.stage_kind COLLATE "C" AS stage_kind,
           count(*)::integer AS entered, count(entry.days_to_advance)::integer AS advanced,
           count(*) FILTER (WHERE entry.lost_from)::integer AS lost
    FROM counted AS entry
    GROUP BY 1, 2, 3, 4, 5, 6, 7
) AS summed
LEFT JOIN (
    SELECT entry.grain COLLATE "C" AS grain, entry.grain_id COLLATE "C" AS grain_id,
           entry.period COLLATE "C" AS period, entry.period_start, entry.pipeline COLLATE "C" AS pipeline,
           entry.stage COLLATE "C" AS stage,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY entry.days_to_advance) AS median_days_to_advance
    FROM counted AS entry
    WHERE entry.days_to_advance IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6
) AS median USING (grain, grain_id, period, period_start, pipeline, stage)
LEFT JOIN mart.pinterest_entity AS entity
       ON entity.grain COLLATE "C" = summed.grain AND entity.grain_id COLLATE "C" = summed.grain_id
LEFT JOIN raw.hubspot_pipeline_stages AS stage
       ON stage.pipeline_id COLLATE "C" = summed.pipeline AND stage.stage_id COLLATE "C" = summed.stage;
{% if full %}
SELECT mart.index_generation('funnel');
{% endif %}
SET LOCAL enable_nestloop = on;
