-- Rule: campaign, ad group and ad (pin) resolution; first match wins at each level:
--   macro_id   the id a Pinterest URL macro wrote into the deal ({campaignid}, {adgroupid}, {adid}) is a known
--              entity; a known ad or ad group id also gives its ad group and campaign;
--   utm_id     utm_campaign (campaign) or utm_content (ad group, ad, or the ad's pin) is a known entity's id;
--   utm_name   utm_campaign equals a name a campaign has or had (ops.pinterest_entity_names), compared after
--              case-folding and collapsing runs of spaces, '-' and '_'; utm_content likewise for the ad groups and
--              ads of the resolved campaign (an ad found by name also gives its ad group). A name stands for the
--              entity that most recently took it when the deal was created (held_since <= createdate; for a deal
--              created before any entity had it, its first holder): a campaign taking a name later (a renamed
--              campaign's former name, "Black Friday" again next year) never moves an earlier deal. Entities that
--              took one name at the same moment share it: it resolves neither;
--   unresolved otherwise (counted at the account level only).
-- Levels are consistent: an ad group resolves only to an ad group of the resolved campaign, an ad only to an ad of
-- the resolved ad group. An id (macro or utm_content) of another campaign's ad group or ad is no match: its level is
-- unresolved, and counted so, unless a later match of the resolved campaign resolves it.
CREATE OR REPLACE FUNCTION mart.normalize_name(name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN NULLIF(btrim(regexp_replace(lower(name), '[\s_-]+', ' ', 'g')), '');

CREATE OR REPLACE VIEW mart.deal_resolution AS
WITH named AS (
    -- Every name each entity held, since when, and where it names: campaigns across the warehouse (scope ''), ad
    -- groups and ads within their campaign.
    SELECT names.level, names.entity_id, names.normalized_name, names.held_since,
           CASE names.level WHEN 'campaign' THEN '' WHEN 'ad_group' THEN ad_group.campaign_id ELSE ad.campaign_id
           END AS scope
    FROM ops.pinterest_entity_names AS names
    LEFT JOIN raw.pinterest_ad_groups AS ad_group
           ON names.level = 'ad_group' AND ad_group.ad_group_id = names.entity_id
    LEFT JOIN raw.pinterest_ads AS ad ON names.level = 'ad' AND ad.ad_id = names.entity_id
),
name_spans AS (
    -- Per name, who stood for it from when (held_since) until the next entity took it (next_since); the first span
    -- also covers the time before it. Entities that took the name at the same moment: nobody (entity_id NULL).
    SELECT level, scope, normalized_name, held_since,
           CASE WHEN count(*) = 1 THEN min(entity_id) END AS entity_id,
           row_number() OVER spans = 1 AS first_span,
           lead(held_since) OVER spans AS next_since
    FROM named
    WHERE scope IS NOT NULL
    GROUP BY level, scope, normalized_name, held_since
    WINDOW spans AS (PARTITION BY level, scope, normalized_name ORDER BY held_since)
),
pins AS (
    SELECT ad.pin_id, min(ad.ad_id) AS ad_id
    FROM raw.pinterest_ads AS ad
    WHERE ad.pin_id IS NOT NULL
    GROUP BY ad.pin_id
    HAVING count(*) = 1
),
by_id AS (
    -- The entities each id names, with the campaign (and ad group) each belongs to; the campaign name's holder.
    SELECT deal.deal_id, deal.model,
           COALESCE(deal.created_at, '-infinity') AS created_at,
           mart.normalize_name(deal.utm_content) AS content_name,
           COALESCE(campaign_macro.campaign_id, ad_group_macro.campaign_id, ad_macro.campaign_id) AS campaign_macro,
           COALESCE(campaign_utm.campaign_id, ad_group_utm.campaign_id, ad_utm.campaign_id, pin_ad.campaign_id)
               AS campaign_utm,
           campaign_name.entity_id AS campaign_name,
           ad_group_macro.ad_group_id AS ad_group_macro, ad_group_macro.campaign_id AS ad_group_macro_campaign,
           ad_group_utm.ad_group_id AS ad_group_utm, ad_group_utm.campaign_id AS ad_group_utm_campaign,
           ad_macro.ad_id AS ad_macro, ad_macro.ad_group_id AS ad_macro_ad_group,
           ad_macro.campaign_id AS ad_macro_campaign,
           COALESCE(ad_utm.ad_id, pin_ad.ad_id) AS ad_utm,
           COALESCE(ad_utm.ad_group_id, pin_ad.ad_group_id) AS ad_utm_ad_group,
           COALESCE(ad_utm.campaign_id, pin_ad.campaign_id) AS ad_utm_campaign
    FROM mart.deal_touch AS deal
    LEFT JOIN raw.pinterest_campaigns AS campaign_macro ON campaign_macro.campaign_id = deal.pinterest_campaign_id
    LEFT JOIN raw.pinterest_ad_groups AS ad_group_macro ON ad_group_macro.ad_group_id = deal.pinterest_ad_group_id
    LEFT JOIN raw.pinterest_ads AS ad_macro ON ad_macro.ad_id = deal.pinterest_ad_id
    LEFT JOIN raw.pinterest_campaigns AS campaign_utm ON campaign_utm.campaign_id = deal.utm_campaign
    LEFT JOIN raw.pinterest_ad_groups AS ad_group_utm ON ad_group_utm.ad_group_id = deal.utm_content
    LEFT JOIN raw.pinterest_ads AS ad_utm ON ad_utm.ad_id = deal.utm_content
    LEFT JOIN pins ON pins.pin_id = deal.utm_content
    LEFT JOIN raw.pinterest_ads AS pin_ad ON pin_ad.ad_id = pins.ad_id
    LEFT JOIN name_spans AS campaign_name
           ON campaign_name.level = 'campaign' AND campaign_name.scope = ''
          AND campaign_name.normalized_name = mart.normalize_name(deal.utm_campaign)
          AND (campaign_name.first_span OR campaign_name.held_since <= COALESCE(deal.created_at, '-infinity'))
          AND (campaign_name.next_since IS NULL OR COALESCE(deal.created_at, '-infinity') < campaign_name.next_since)
)
-- Each level is decided once per deal, in order (OFFSET 0 keeps the planner from pasting a decision's expression into
-- every place that uses it).
SELECT by_id.deal_id, account.ad_account_id, campaign.campaign_id, campaign.campaign_resolved_by,
       ad_group.ad_group_id, ad_group.ad_group_resolved_by, ad.ad_id, ad.ad_resolved_by, by_id.model
FROM by_id
CROSS JOIN LATERAL (
    SELECT COALESCE(by_id.campaign_macro, by_id.campaign_utm, by_id.campaign_name) AS campaign_id,
           CASE WHEN by_id.campaign_macro IS NOT NULL THEN 'macro_id'
                WHEN by_id.campaign_utm IS NOT NULL THEN 'utm_id'
                WHEN by_id.campaign_name IS NOT NULL THEN 'utm_name'
                ELSE 'unresolved'
           END AS campaign_resolved_by
    OFFSET 0
) AS campaign
LEFT JOIN raw.pinterest_campaigns AS account ON account.campaign_id = campaign.campaign_id
LEFT JOIN name_spans AS ad_group_name
       ON ad_group_name.level = 'ad_group' AND ad_group_name.scope = campaign.campaign_id
      AND ad_group_name.normalized_name = by_id.content_name
      AND (ad_group_name.first_span OR ad_group_name.held_since <= by_id.created_at)
      AND (ad_group_name.next_since IS NULL OR by_id.created_at < ad_group_name.next_since)
LEFT JOIN name_spans AS ad_name
       ON ad_name.level = 'ad' AND ad_name.scope = campaign.campaign_id AND ad_name.normalized_name = by_id.content_name
      AND (ad_name.first_span OR ad_name.held_since <= by_id.created_at)
      AND (ad_name.next_since IS NULL OR by_id.created_at < ad_name.next_since)
LEFT JOIN raw.pinterest_ads AS ad_name_ad ON ad_name_ad.ad_id = ad_name.entity_id
-- The ad group: the first match that belongs to the resolved campaign.
CROSS JOIN LATERAL (
    SELECT COALESCE(matched.by_macro, matched.by_utm, matched.by_name) AS ad_group_id,
           CASE WHEN matched.by_macro IS NOT NULL THEN 'macro_id'
                WHEN matched.by_utm IS NOT NULL THEN 'utm_id'
                WHEN matched.by_name IS NOT NULL THEN 'utm_name'
                ELSE 'unresolved'
           END AS ad_group_resolved_by
    FROM (
        SELECT COALESCE(CASE WHEN by_id.ad_group_macro_campaign = campaign.campaign_id THEN by_id.ad_group_macro END,
                        CASE WHEN by_id.ad_macro_campaign = campaign.campaign_id THEN by_id.ad_macro_ad_group END)
                   AS by_macro,
               COALESCE(CASE WHEN by_id.ad_group_utm_campaign = campaign.campaign_id THEN by_id.ad_group_utm END,
                        CASE WHEN by_id.ad_utm_campaign = campaign.campaign_id THEN by_id.ad_utm_ad_group END)
                   AS by_utm,
               COALESCE(ad_group_name.entity_id, ad_name_ad.ad_group_id) AS by_name
    ) AS matched
    OFFSET 0
) AS ad_group
-- The ad: the first match that belongs to the resolved ad group.
CROSS JOIN LATERAL (
    SELECT COALESCE(matched.by_macro, matched.by_utm, matched.by_name) AS ad_id,
           CASE WHEN matched.by_macro IS NOT NULL THEN 'macro_id'
                WHEN matched.by_utm IS NOT NULL THEN 'utm_id'
                WHEN matched.by_name IS NOT NULL THEN 'utm_name'
                ELSE 'unresolved'
           END AS ad_resolved_by
    FROM (
        SELECT CASE WHEN by_id.ad_macro_ad_group = ad_group.ad_group_id THEN by_id.ad_macro END AS by_macro,
               CASE WHEN by_id.ad_utm_ad_group = ad_group.ad_group_id THEN by_id.ad_utm END AS by_utm,
               CASE WHEN ad_name_ad.ad_group_id = ad_group.ad_group_id THEN ad_name.entity_id END AS by_name
    ) AS matched
) AS ad;
