-- mart.deal_attribution from the rules (counted, won, lead, channel, resolution): every deal on a full rebuild,
-- else the deals whose raw rows changed since the last reconcile (and their lineage). The removed and added rows'
-- contributions go to mart.performance_pending and mart.channel_performance_pending, which publish_marts applies.
-- A rebuild writes the run's new generation (nobody reads it before publish_marts publishes it); an incremental run
-- stages the changed deals' rows in generation 0 and the keys they replace in mart.deal_attribution_replaced, and
-- publish_marts moves them into the published generation, in the transaction that publishes the rest.
{% set full = ti.xcom_pull(task_ids='plan_reconcile')['mode'] == 'full' %}
{% set rules = 'mart.' if full else 'changed_' %}
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

-- A changed deal's lineage: the deals merged into it, the deal it was merged into, the other ids of its key.
INSERT INTO reconcile_changed
SELECT merged.deal_id FROM raw.hubspot_deals AS merged JOIN reconcile_changed AS changed
    ON merged.merged_into_deal_id = changed.deal_id
UNION
SELECT deal.merged_into_deal_id FROM raw.hubspot_deals AS deal JOIN reconcile_changed AS changed USING (deal_id)
WHERE deal.merged_into_deal_id IS NOT NULL
UNION
SELECT other.deal_id
FROM reconcile_changed AS changed
JOIN raw.hubspot_deal_ids AS own ON own.deal_id = changed.deal_id AND own.via = 'self'
JOIN raw.hubspot_deal_ids AS other ON other.stable_key = own.stable_key AND other.via = 'self'
ON CONFLICT DO NOTHING;
ANALYZE reconcile_changed;

CREATE TEMP TABLE reconcile_replaced ON COMMIT DROP AS
SELECT deal.stable_key
FROM mart.deal_attribution AS deal
WHERE deal.deal_id IN (SELECT deal_id FROM reconcile_changed)
UNION
SELECT own.stable_key
FROM reconcile_changed AS changed
JOIN raw.hubspot_deal_ids AS own ON own.deal_id = changed.deal_id AND own.via = 'self';

INSERT INTO mart.performance_pending
SELECT ad_account_id, campaign_id, ad_group_id, ad_id, day,
       -leads, -won, -revenue, -leads_won_to_date, -pinterest_won, -pinterest_won_with_epik
FROM mart.deal_contributions
WHERE stable_key IN (SELECT stable_key FROM reconcile_replaced);

INSERT INTO mart.channel_performance_pending
SELECT channel_name, day, -leads, -won, -revenue
FROM mart.deal_channel_contributions
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
{% endfor %}
SET LOCAL enable_nestloop = on;
{% endif %}

-- The generation written (a rebuild's new one, or the staging one) holds nothing else: a task run again starts over.
DELETE FROM mart.deal_attribution;
INSERT INTO mart.deal_attribution (
    stable_key, deal_id, channel, channel_name, epik, ad_account_id, campaign_id, ad_group_id, ad_id,
    campaign_resolved_by, ad_group_resolved_by, ad_resolved_by, pipeline, dealstage, is_won, lead_at, lead_day,
    won_at, won_day, time_to_close, amount, currency, amount_home, home_currency, source_modified_at,
    report_account_id, utm_source, utm_campaign, utm_content, contact_count, lineage_deal_count
)
SELECT counted.stable_key,
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
       won.is_won,
       lead.lead_at,
       (lead.lead_at AT TIME ZONE account.timezone)::date AS lead_day,
       won.won_at,
       (won.won_at AT TIME ZONE account.timezone)::date AS won_day,
       won.won_at - lead.lead_at AS time_to_close,
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
       lead.lineage_deal_count
FROM {{ rules }}counted_deals AS counted
JOIN raw.hubspot_deals AS deal ON deal.deal_id = counted.deal_id
JOIN {{ rules }}deal_won AS won ON won.deal_id = counted.deal_id
JOIN {{ rules }}deal_lead AS lead ON lead.deal_id = counted.deal_id
JOIN {{ rules }}deal_channel AS channel ON channel.deal_id = counted.deal_id
JOIN {{ rules }}deal_resolution AS resolution ON resolution.deal_id = counted.deal_id
CROSS JOIN LATERAL (SELECT channel.channel IN ('pinterest_paid', 'pinterest_organic') AS pinterest) AS kind
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

INSERT INTO mart.performance_pending
SELECT ad_account_id, campaign_id, ad_group_id, ad_id, day,
       leads, won, revenue, leads_won_to_date, pinterest_won, pinterest_won_with_epik
FROM mart.deal_contributions
WHERE stable_key IN (SELECT stable_key FROM reconcile_added);

INSERT INTO mart.channel_performance_pending
SELECT channel_name, day, leads, won, revenue
FROM mart.deal_channel_contributions
WHERE stable_key IN (SELECT stable_key FROM reconcile_added);
{% endif %}

UPDATE ops.reconcile_runs
SET deals_changed = (SELECT count(*) FROM {% if full %}raw.hubspot_deals{% else %}reconcile_changed{% endif %})
WHERE run_id = %(run_id)s;
