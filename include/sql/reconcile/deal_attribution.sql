-- mart.deal_attribution from the rules (counted, won, lead, channel, resolution): every deal on a full rebuild,
-- else the deals whose raw rows changed since the last reconcile (and their lineage). The removed and added rows'
-- contributions go to mart.performance_pending and mart.channel_performance_pending, which publish_marts applies.
-- A rebuild writes the run's new generation (nobody reads it before publish_marts publishes it); an incremental run
-- stages the changed deals' rows in generation 0 and the keys they replace in mart.deal_attribution_replaced, and
-- publish_marts moves them into the published generation, in the transaction that publishes the rest.
-- A lineage's lead and won moments are the ones it was given before (ops.lineage_moments, which no rebuild empties),
-- whatever its current deal says.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
{% set rules = 'mart.' if full else 'changed_' %}
{% set pending_columns %}
    model, ad_account_id, campaign_id, ad_group_id, ad_id, day, leads, won, revenue, leads_won_to_date,
    pinterest_won, pinterest_won_with_epik, leads_open, leads_expected_wins, leads_expected_revenue,
    leads_open_without_probability
{% endset %}
SET LOCAL work_mem = '256MB';
-- Compiling these plans (JIT) costs seconds and saves less than that on a few million rows.
SET LOCAL jit = off;
-- reconcile_spend runs beside this task on the other core: parallel workers would only contend with it.
SET LOCAL max_parallel_workers_per_gather = 0;
-- The rule views nest a dozen joins: let the planner see through them (ids of changed deals drive the lookups).
SET LOCAL join_collapse_limit = 24;
SET LOCAL from_collapse_limit = 24;
SET LOCAL geqo_threshold = 24;
CREATE TEMP TABLE reconcile_changed (deal_id bigint PRIMARY KEY) ON COMMIT DROP;
SELECT mart.use_run_generation(%(run_id)s);
-- What an earlier run that did not publish handed over is recomputed: this run reconciles its changes too.
TRUNCATE mart.performance_pending, mart.channel_performance_pending, mart.deal_attribution_replaced;

{% if not full %}
INSERT INTO reconcile_changed
SELECT deal_id FROM raw.hubspot_deals
WHERE loaded_at >= (SELECT since FROM ops.reconcile_runs WHERE run_id = %(run_id)s)
UNION
SELECT deal_id FROM raw.hubspot_deal_contacts
WHERE loaded_at >= (SELECT since FROM ops.reconcile_runs WHERE run_id = %(run_id)s);

-- A changed deal's lineage: the deals merged into it, the deal it was merged into, the other ids of its key. The ids
-- go in as one array (index lookups of the changed deals; a join would be planned as a scan of every row).
INSERT INTO reconcile_changed
SELECT merged.deal_id FROM raw.hubspot_deals AS merged
WHERE merged.merged_into_deal_id = ANY ((SELECT array_agg(deal_id) FROM reconcile_changed)::bigint[])
UNION
SELECT deal.merged_into_deal_id FROM raw.hubspot_deals AS deal
WHERE deal.deal_id = ANY ((SELECT array_agg(deal_id) FROM reconcile_changed)::bigint[])
  AND deal.merged_into_deal_id IS NOT NULL
UNION
SELECT other.deal_id
FROM raw.hubspot_deal_ids AS own
JOIN raw.hubspot_deal_ids AS other ON other.stable_key = own.stable_key AND other.via = 'self'
WHERE own.deal_id = ANY ((SELECT array_agg(deal_id) FROM reconcile_changed)::bigint[]) AND own.via = 'self'
ON CONFLICT DO NOTHING;
ANALYZE reconcile_changed;

CREATE TEMP TABLE reconcile_replaced ON COMMIT DROP AS
SELECT deal.stable_key
FROM mart.deal_attribution AS deal
WHERE deal.deal_id = ANY ((SELECT array_agg(deal_id) FROM reconcile_changed)::bigint[])
UNION
SELECT own.stable_key
FROM raw.hubspot_deal_ids AS own
WHERE own.deal_id = ANY ((SELECT array_agg(deal_id) FROM reconcile_changed)::bigint[]) AND own.via = 'self';

-- Under each model the deal's touches count under (contributions.sql).
INSERT INTO mart.performance_pending ({{ pending_columns }})
SELECT model, ad_account_id, campaign_id, ad_group_id, ad_id, day,
       -leads, -won, -revenue, -leads_won_to_date, -pinterest_won, -pinterest_won_with_epik, -leads_open,
       -leads_expected_wins, -leads_expected_revenue, -leads_open_without_probability
FROM mart.deal_contributions CROSS JOIN LATERAL unnest(models) AS model
WHERE stable_key IN (SELECT stable_key FROM reconcile_replaced);

INSERT INTO mart.channel_performance_pending (model, channel_name, day, leads, won, revenue)
SELECT model, channel_name, day, -leads, -won, -revenue
FROM mart.deal_channel_contributions CROSS JOIN LATERAL unnest(models) AS model
WHERE stable_key IN (SELECT stable_key FROM reconcile_replaced);

INSERT INTO mart.deal_attribution_replaced SELECT stable_key FROM reconcile_replaced;
SELECT mart.use_generation(0);

-- Each rule's view for the changed deals only, one at a time. The ids go in as one array, a condition the planner
-- pushes down to the view's scan of raw.hubspot_deals (an index lookup of the changed deals), where a join with
-- reconcile_changed would be planned as a join of the whole view.
-- The planner expects a handful of ids there: for resolution it would then nest a loop over the campaigns' names
-- that normalises each deal's utm_campaign once per campaign; hash joins normalise it once per deal.
{% for rule in ('counted_deals', 'deal_won', 'deal_lead', 'deal_channel', 'deal_resolution') %}
{% if rule == 'deal_resolution' %}SET LOCAL enable_nestloop = off;{% endif %}
CREATE TEMP TABLE changed_{{ rule }} ON COMMIT DROP AS
SELECT rule.* FROM mart.{{ rule }} AS rule
WHERE rule.deal_id = ANY ((SELECT array_agg(deal_id) FROM reconcile_changed)::bigint[]);
-- Statistics, or the planner takes a model's share of a few rows and loops over the table once per deal. Keyed too:
-- the join of the deals' moments above the rule tables is still estimated at a row or so, and the planner loops over
-- the first touches once per deal (2,000 changed deals x 2,331 rule rows, twice: 0.9 s of the deal rows' 1.1 s at
-- 200,000 deals); by the key each deal is one lookup.
CREATE INDEX ON changed_{{ rule }} (deal_id);
ANALYZE changed_{{ rule }};
{% endfor %}
SET LOCAL enable_nestloop = on;
{% endif %}

-- The generation written (a rebuild's new one, or the staging one) holds nothing else: a task run again starts over.
DELETE FROM mart.deal_attribution;

-- Identity and time (docs/attribution.md): what each rebuilt lineage was published with before, under its key or under
-- a key a merge or a re-key folded into it (that key is now an alias of the lineage's: raw.hubspot_deal_ids).
CREATE TEMP TABLE reconcile_observed ON COMMIT DROP AS
SELECT DISTINCT ON (alias.stable_key)
       alias.stable_key,
       min(observed.lead_at) OVER lineage AS lead_at,
       observed.won_at, observed.won_deal_id, observed.deal_id, observed.deal_won_entry,
       array_agg(observed.stable_key) OVER lineage AS observed_keys
FROM ops.lineage_moments AS observed
JOIN raw.hubspot_deal_ids AS alias ON alias.alias_id = observed.stable_key
{% if not full %}
WHERE alias.stable_key IN (SELECT stable_key FROM reconcile_replaced)
{% endif %}
WINDOW lineage AS (PARTITION BY alias.stable_key)
ORDER BY alias.stable_key, observed.won_at NULLS LAST, observed.stable_key;

-- Each counted deal's moments: the lead moment is the earliest ever published for its lineage (a merge with an
-- older deal moves it earlier, nothing moves it later; never after the win); the won moment is the one published
-- first, unless the same deal's own won time changed since (a re-win: the won rule's last entry). A successor
-- (a CRM migration's re-created deal, a merge's survivor) takes the lineage over without moving it.
CREATE TEMP TABLE reconcile_moments ON COMMIT DROP AS
SELECT counted.deal_id, counted.stable_key, won.is_won, won.won_at AS deal_won_at, won.entered_at_creation,
       lead.lineage_deal_count, published.won_at,
       CASE WHEN own.win AND won.won_at IS NOT NULL THEN counted.deal_id WHEN won.is_won THEN observed.won_deal_id
       END AS won_deal_id,
       LEAST(lead.lead_at, observed.lead_at, published.won_at) AS lead_at
FROM {{ rules }}counted_deals AS counted
JOIN {{ rules }}deal_won AS won ON won.deal_id = counted.deal_id
JOIN {{ rules }}deal_lead AS lead ON lead.deal_id = counted.deal_id
LEFT JOIN reconcile_observed AS observed ON observed.stable_key = counted.stable_key
-- Is the won moment this deal's own won time (a first win, or a re-win of the same deal)? Else it is kept.
CROSS JOIN LATERAL (
    SELECT won.is_won AND (
               observed.won_at IS NULL
               OR (observed.deal_id = counted.deal_id AND won.won_at IS DISTINCT FROM observed.deal_won_entry
                   AND won.won_at IS NOT NULL)
           ) AS win
) AS own
CROSS JOIN LATERAL (
    SELECT CASE WHEN own.win THEN won.won_at WHEN won.is_won THEN observed.won_at END AS won_at
) AS published;
ANALYZE reconcile_moments;

INSERT INTO mart.deal_attribution (
    stable_key, deal_id, channel, channel_name, epik, ad_account_id, campaign_id, ad_group_id, ad_id,
    campaign_resolved_by, ad_group_resolved_by, ad_resolved_by, pipeline, dealstage, is_won, lead_at, lead_day,
    won_at, won_day, time_to_close, amount, currency, amount_home, home_currency, source_modified_at,
    report_account_id, utm_source, utm_campaign, utm_content, contact_count, lineage_deal_count, stage_closed,
    stage_probability, first_touch_channel, first_touch_channel_name, first_touch_ad_account_id,
    first_touch_campaign_id, first_touch_ad_group_id, first_touch_ad_id, first_touch_campaign_resolved_by,
    first_touch_ad_group_resolved_by, first_touch_ad_resolved_by, first_touch_differs, first_touch_report_account_id,
    first_touch_epik
)
SELECT moment.stable_key,
       deal.deal_id,
       channel.channel,
       channel.channel_name,
       deal.epik,
       CASE WHEN pinterest THEN resolution.ad_account_id END AS ad_account_id,
       CASE WHEN pinterest THEN resolution.campaign_id END AS campaign_id,
       CASE WHEN pinterest THEN resolution.ad_group_id END AS ad_group_id,
       CASE WHEN pinterest THEN resolution.ad_id END AS ad_id,
       CASE WHEN pinterest THEN resolution.campaign_resolved_by END AS campaign_resolved_by,
       CASE WHEN pinterest THEN resolution.ad_group_resolved_by END AS ad_group_resolved_by,
       CASE WHEN pinterest THEN resolution.ad_resolved_by END AS ad_resolved_by,
       deal.pipeline,
       deal.dealstage,
       moment.is_won,
       moment.lead_at,
       (moment.lead_at AT TIME ZONE account.timezone)::date AS lead_day,
       moment.won_at,
       (moment.won_at AT TIME ZONE account.timezone)::date AS won_day,
       moment.won_at - moment.lead_at AS time_to_close,
       deal.amount,
       deal.currency,
       COALESCE(deal.amount_in_home_currency, CASE WHEN deal.currency = %(home_currency)s THEN deal.amount END)
           AS amount_home,
       %(home_currency)s AS home_currency,
       GREATEST(deal.loaded_at, contacts.loaded_at) AS source_modified_at,
       CASE WHEN pinterest THEN account.ad_account_id END AS report_account_id,
       deal.utm_source,
       deal.utm_campaign,
       deal.utm_content,
       COALESCE(contacts.count, 0) AS contact_count,
       moment.lineage_deal_count,
       stage.is_closed AS stage_closed,
       stage.probability AS stage_probability,
       first_touch.channel AS first_touch_channel,
       first_touch.channel_name AS first_touch_channel_name,
       CASE WHEN first_touch.is_pinterest THEN first_touch.ad_account_id END AS first_touch_ad_account_id,
       CASE WHEN first_touch.is_pinterest THEN first_touch.campaign_id END AS first_touch_campaign_id,
       CASE WHEN first_touch.is_pinterest THEN first_touch.ad_group_id END AS first_touch_ad_group_id,
       CASE WHEN first_touch.is_pinterest THEN first_touch.ad_id END AS first_touch_ad_id,
       CASE WHEN first_touch.is_pinterest THEN first_touch.campaign_resolved_by END AS first_touch_campaign_resolved_by,
       CASE WHEN first_touch.is_pinterest THEN first_touch.ad_group_resolved_by END AS first_touch_ad_group_resolved_by,
       CASE WHEN first_touch.is_pinterest THEN first_touch.ad_resolved_by END AS first_touch_ad_resolved_by,
       first_touch.differs AS first_touch_differs,
       -- the ad account whose days the first touch counts in, by the rule of report_account_id below (the deal's
       -- days stay the last touch's account's days)
       CASE WHEN NOT first_touch.differs THEN CASE WHEN pinterest THEN account.ad_account_id END
            WHEN first_touch.is_pinterest
            THEN COALESCE((SELECT first_account.ad_account_id FROM raw.pinterest_ad_accounts AS first_account
                           WHERE first_account.ad_account_id = first_touch.ad_account_id),
                          fallback_account.ad_account_id)
       END AS first_touch_report_account_id,
       first_touch.epik AS first_touch_epik
FROM reconcile_moments AS moment
JOIN raw.hubspot_deals AS deal ON deal.deal_id = moment.deal_id
-- The stage's metadata as last read (the forecast rule, forecast.sql): kept on the row, so that an incremental run
-- subtracts what the row added.
LEFT JOIN raw.hubspot_pipeline_stages AS stage ON stage.pipeline_id = deal.pipeline AND stage.stage_id = deal.dealstage
JOIN {{ rules }}deal_channel AS channel ON channel.deal_id = moment.deal_id AND channel.model = 'last_touch'
JOIN {{ rules }}deal_resolution AS resolution
  ON resolution.deal_id = moment.deal_id AND resolution.model = 'last_touch'
CROSS JOIN LATERAL (SELECT channel.channel IN ('pinterest_paid', 'pinterest_organic') AS pinterest) AS kind
-- The first touch (touch.sql): decided by the rules only for a deal whose first touch has values of its own that
-- differ from its last touch's; every other deal's first touch is its last.
LEFT JOIN {{ rules }}deal_channel AS first_channel
       ON first_channel.deal_id = moment.deal_id AND first_channel.model = 'first_touch'
LEFT JOIN {{ rules }}deal_resolution AS first_resolution
       ON first_resolution.deal_id = moment.deal_id AND first_resolution.model = 'first_touch'
CROSS JOIN LATERAL (
    SELECT own.differs,
           CASE WHEN own.differs THEN first_channel.channel ELSE channel.channel END AS channel,
           CASE WHEN own.differs THEN first_channel.channel_name ELSE channel.channel_name END AS channel_name,
           CASE WHEN own.differs THEN first_channel.channel ELSE channel.channel END
               IN ('pinterest_paid', 'pinterest_organic') AS is_pinterest,
           CASE WHEN own.differs THEN first_resolution.ad_account_id ELSE resolution.ad_account_id END
               AS ad_account_id,
           CASE WHEN own.differs THEN first_resolution.campaign_id ELSE resolution.campaign_id END AS campaign_id,
           CASE WHEN own.differs THEN first_resolution.ad_group_id ELSE resolution.ad_group_id END AS ad_group_id,
           CASE WHEN own.differs THEN first_resolution.ad_id ELSE resolution.ad_id END AS ad_id,
           CASE WHEN own.differs THEN first_resolution.campaign_resolved_by ELSE resolution.campaign_resolved_by END
               AS campaign_resolved_by,
           CASE WHEN own.differs THEN first_resolution.ad_group_resolved_by ELSE resolution.ad_group_resolved_by END
               AS ad_group_resolved_by,
           CASE WHEN own.differs THEN first_resolution.ad_resolved_by ELSE resolution.ad_resolved_by END
               AS ad_resolved_by,
           -- the first touch's click id as touch.sql takes it (normalised: NULL when malformed, as `epik` is)
           CASE WHEN own.differs THEN deal.first_touch_epik ELSE deal.epik END AS epik
    FROM (SELECT first_channel.deal_id IS NOT NULL AS differs) AS own
) AS first_touch
-- The ad account whose days the deal is counted in: its campaign's, else the warehouse's (first) ad account.
LEFT JOIN raw.pinterest_ad_accounts AS own_account
       ON kind.pinterest AND own_account.ad_account_id = resolution.ad_account_id
CROSS JOIN (
    SELECT (SELECT ad_account_id FROM raw.pinterest_ad_accounts ORDER BY ad_account_id LIMIT 1) AS ad_account_id,
           COALESCE((SELECT timezone FROM raw.pinterest_ad_accounts ORDER BY ad_account_id LIMIT 1), 'UTC') AS timezone
) AS fallback_account
CROSS JOIN LATERAL (
    SELECT COALESCE(own_account.ad_account_id, fallback_account.ad_account_id) AS ad_account_id,
           COALESCE(own_account.timezone, fallback_account.timezone) AS timezone
) AS account
{% if full %}
-- Every deal: the contacts counted in one pass, not looked up deal by deal.
LEFT JOIN (
    SELECT link.deal_id, count(*)::integer AS count, max(link.loaded_at) AS loaded_at
    FROM raw.hubspot_deal_contacts AS link
    GROUP BY link.deal_id
) AS contacts ON contacts.deal_id = deal.deal_id;
{% else %}
LEFT JOIN LATERAL (
    SELECT count(*)::integer AS count, max(link.loaded_at) AS loaded_at
    FROM raw.hubspot_deal_contacts AS link
    WHERE link.deal_id = deal.deal_id
) AS contacts ON true;
{% endif %}

{% if full %}
SET LOCAL maintenance_work_mem = '512MB';
SELECT mart.index_generation('deal_attribution');
{% else %}
CREATE TEMP TABLE reconcile_added ON COMMIT DROP AS
SELECT deal.stable_key FROM mart.deal_attribution AS deal JOIN reconcile_changed AS changed USING (deal_id);

INSERT INTO mart.performance_pending ({{ pending_columns }})
SELECT model, ad_account_id, campaign_id, ad_group_id, ad_id, day,
       leads, won, revenue, leads_won_to_date, pinterest_won, pinterest_won_with_epik, leads_open,
       leads_expected_wins, leads_expected_revenue, leads_open_without_probability
FROM mart.deal_contributions CROSS JOIN LATERAL unnest(models) AS model
WHERE stable_key IN (SELECT stable_key FROM reconcile_added);

INSERT INTO mart.channel_performance_pending (model, channel_name, day, leads, won, revenue)
SELECT model, channel_name, day, leads, won, revenue
FROM mart.deal_channel_contributions CROSS JOIN LATERAL unnest(models) AS model
WHERE stable_key IN (SELECT stable_key FROM reconcile_added);
{% endif %}

-- What the lineages were published with is what later runs keep (the lineage's current key; keys it absorbed are
-- folded into it).
DELETE FROM ops.lineage_moments AS observed
USING reconcile_observed AS folded
WHERE cardinality(folded.observed_keys) > 1  -- only lineages that absorbed a key have one to fold
  AND observed.stable_key = ANY(folded.observed_keys) AND observed.stable_key <> folded.stable_key
  AND folded.stable_key IN (SELECT stable_key FROM reconcile_moments);

INSERT INTO ops.lineage_moments AS observed (stable_key, lead_at, won_at, won_deal_id, deal_id, deal_won_entry, run_id)
SELECT moment.stable_key, moment.lead_at,
       COALESCE(moment.won_at, previous.won_at), COALESCE(moment.won_deal_id, previous.won_deal_id),
       CASE WHEN moment.is_won THEN moment.deal_id ELSE previous.deal_id END,
       CASE WHEN moment.is_won THEN moment.deal_won_at ELSE previous.deal_won_entry END,
       %(run_id)s
FROM reconcile_moments AS moment
LEFT JOIN reconcile_observed AS previous ON previous.stable_key = moment.stable_key
ON CONFLICT (stable_key) DO UPDATE
SET lead_at = EXCLUDED.lead_at, won_at = EXCLUDED.won_at, won_deal_id = EXCLUDED.won_deal_id,
    deal_id = EXCLUDED.deal_id, deal_won_entry = EXCLUDED.deal_won_entry, observed_at = now(), run_id = EXCLUDED.run_id
WHERE (observed.lead_at, observed.won_at, observed.won_deal_id, observed.deal_id, observed.deal_won_entry)
      IS DISTINCT FROM (EXCLUDED.lead_at, EXCLUDED.won_at, EXCLUDED.won_deal_id, EXCLUDED.deal_id,
                        EXCLUDED.deal_won_entry);

-- A won deal whose won time is its own creation's instant (an import: docs/hubspot.md) is flagged, re-decided with
-- the deal; not when its lineage's moment came from an earlier deal.
DELETE FROM ops.record_issues
WHERE source = 'hubspot.deal_won_time'
{% if not full %}
  AND record_key IN (SELECT deal_id::text FROM reconcile_changed)
{% endif %}
;
INSERT INTO ops.record_issues (source, record_key, field, reason, raw_value, run_id)
SELECT 'hubspot.deal_won_time', moment.deal_id::text, 'hs_v2_date_entered_' || deal.dealstage,
       CASE WHEN deal.closed_at IS NOT NULL
            THEN 'the deal entered its won stage at its own creation (an import, e.g. a CRM migration): won time is its closedate'
            ELSE 'the deal entered its won stage at its own creation (an import, e.g. a CRM migration) and has no closedate: won time is that instant'
       END,
       deal.stage_entered_at ->> deal.dealstage, %(run_id)s
FROM reconcile_moments AS moment
JOIN raw.hubspot_deals AS deal ON deal.deal_id = moment.deal_id
WHERE moment.entered_at_creation AND moment.won_deal_id = moment.deal_id
ON CONFLICT DO NOTHING;

UPDATE ops.reconcile_runs
SET deals_changed = (SELECT count(*) FROM {% if full %}raw.hubspot_deals{% else %}reconcile_changed{% endif %})
WHERE run_id = %(run_id)s;
