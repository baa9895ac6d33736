-- Rule: campaign, ad group and ad (pin) resolution; first match wins at each level:
--   macro_id   the id a Pinterest URL macro wrote into the deal ({campaignid}, {adgroupid}, {adid}) is a known
--              entity; a known ad or ad group id also gives its ad group and campaign;
--   utm_id     utm_campaign (campaign) or utm_content (ad group, ad, or the ad's pin) is a known entity's id;
--   utm_name   utm_campaign equals a name the campaign ever had (ops.pinterest_entity_names), compared after
--              case-folding and collapsing runs of spaces, '-' and '_'; utm_content likewise for the ad groups and
--              ads of the resolved campaign (an ad found by name also gives its ad group). A name two entities
--              share resolves neither;
--   unresolved otherwise (counted at the account level only).
CREATE OR REPLACE FUNCTION mart.normalize_name(name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN NULLIF(btrim(regexp_replace(lower(name), '[\s_-]+', ' ', 'g')), '');

CREATE OR REPLACE VIEW mart.deal_resolution AS
WITH campaign_names AS (
    SELECT names.normalized_name, min(names.entity_id) AS campaign_id
    FROM ops.pinterest_entity_names AS names
    WHERE names.level = 'campaign'
    GROUP BY names.normalized_name
    HAVING count(*) = 1
),
ad_group_names AS (
    SELECT ad_group.campaign_id, names.normalized_name, min(names.entity_id) AS ad_group_id
    FROM ops.pinterest_entity_names AS names
    JOIN raw.pinterest_ad_groups AS ad_group ON ad_group.ad_group_id = names.entity_id
    WHERE names.level = 'ad_group'
    GROUP BY ad_group.campaign_id, names.normalized_name
    HAVING count(*) = 1
),
ad_names AS (
    SELECT ad.campaign_id, names.normalized_name, min(names.entity_id) AS ad_id, min(ad.ad_group_id) AS ad_group_id
    FROM ops.pinterest_entity_names AS names
    JOIN raw.pinterest_ads AS ad ON ad.ad_id = names.entity_id
    WHERE names.level = 'ad'
    GROUP BY ad.campaign_id, names.normalized_name
    HAVING count(*) = 1
),
pins AS (
    SELECT ad.pin_id, min(ad.ad_id) AS ad_id
    FROM raw.pinterest_ads AS ad
    WHERE ad.pin_id IS NOT NULL
    GROUP BY ad.pin_id
    HAVING count(*) = 1
),
by_id AS (
    SELECT deal.deal_id,
           mart.normalize_name(deal.utm_content) AS content_name,
           COALESCE(campaign_macro.campaign_id, ad_group_macro.campaign_id, ad_macro.campaign_id) AS campaign_macro,
           COALESCE(campaign_utm.campaign_id, ad_group_utm.campaign_id, ad_utm.campaign_id, pin_ad.campaign_id)
               AS campaign_utm,
           campaign_name.campaign_id AS campaign_name,
           COALESCE(ad_group_macro.ad_group_id, ad_macro.ad_group_id) AS ad_group_macro,
           COALESCE(ad_group_utm.ad_group_id, ad_utm.ad_group_id, pin_ad.ad_group_id) AS ad_group_utm,
           ad_macro.ad_id AS ad_macro,
           COALESCE(ad_utm.ad_id, pin_ad.ad_id) AS ad_utm
    FROM raw.hubspot_deals AS deal
    LEFT JOIN raw.pinterest_campaigns AS campaign_macro ON campaign_macro.campaign_id = deal.pinterest_campaign_id
    LEFT JOIN raw.pinterest_ad_groups AS ad_group_macro ON ad_group_macro.ad_group_id = deal.pinterest_ad_group_id
    LEFT JOIN raw.pinterest_ads AS ad_macro ON ad_macro.ad_id = deal.pinterest_ad_id
    LEFT JOIN raw.pinterest_campaigns AS campaign_utm ON campaign_utm.campaign_id = deal.utm_campaign
    LEFT JOIN raw.pinterest_ad_groups AS ad_group_utm ON ad_group_utm.ad_group_id = deal.utm_content
    LEFT JOIN raw.pinterest_ads AS ad_utm ON ad_utm.ad_id = deal.utm_content
    LEFT JOIN pins ON pins.pin_id = deal.utm_content
    LEFT JOIN raw.pinterest_ads AS pin_ad ON pin_ad.ad_id = pins.ad_id
    LEFT JOIN campaign_names AS campaign_name ON campaign_name.normalized_name = mart.normalize_name(deal.utm_campaign)
),
campaign AS (
    SELECT by_id.*,
           COALESCE(by_id.campaign_macro, by_id.campaign_utm, by_id.campaign_name) AS campaign_id,
           CASE WHEN by_id.campaign_macro IS NOT NULL THEN 'macro_id'
                WHEN by_id.campaign_utm IS NOT NULL THEN 'utm_id'
                WHEN by_id.campaign_name IS NOT NULL THEN 'utm_name'
                ELSE 'unresolved'
           END AS campaign_resolved_by
    FROM by_id
)
SELECT campaign.deal_id,
       account.ad_account_id,
       campaign.campaign_id,
       campaign.campaign_resolved_by,
       COALESCE(campaign.ad_group_macro, campaign.ad_group_utm, ad_group_name.ad_group_id, ad_name.ad_group_id)
           AS ad_group_id,
       CASE WHEN campaign.ad_group_macro IS NOT NULL THEN 'macro_id'
            WHEN campaign.ad_group_utm IS NOT NULL THEN 'utm_id'
            WHEN COALESCE(ad_group_name.ad_group_id, ad_name.ad_group_id) IS NOT NULL THEN 'utm_name'
            ELSE 'unresolved'
       END AS ad_group_resolved_by,
       COALESCE(campaign.ad_macro, campaign.ad_utm, ad_name.ad_id) AS ad_id,
       CASE WHEN campaign.ad_macro IS NOT NULL THEN 'macro_id'
            WHEN campaign.ad_utm IS NOT NULL THEN 'utm_id'
            WHEN ad_name.ad_id IS NOT NULL THEN 'utm_name'
            ELSE 'unresolved'
       END AS ad_resolved_by
FROM campaign
LEFT JOIN raw.pinterest_campaigns AS account ON account.campaign_id = campaign.campaign_id
LEFT JOIN ad_group_names AS ad_group_name
       ON ad_group_name.campaign_id = campaign.campaign_id AND ad_group_name.normalized_name = campaign.content_name
LEFT JOIN ad_names AS ad_name
       ON ad_name.campaign_id = campaign.campaign_id AND ad_name.normalized_name = campaign.content_name;
