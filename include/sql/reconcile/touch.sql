-- Rule: touch models (docs/attribution.md, "Touch models"). Every deal's last touch is its current click id, UTMs
-- and macro ids (model 'last_touch'). Its first touch is its first-touch properties (the first_touch_* roles of the
-- mapping) when it has any; a deal without any, or whose first-touch values are its last-touch ones, has its first
-- touch at its last: it gets no 'first_touch' row here, and the channel and resolution rules decide it once (the
-- marts copy the last touch's answer). HubSpot's original source (analytics_source) and the creation time are the
-- deal's under both models.
CREATE OR REPLACE VIEW mart.deal_touch AS
SELECT deal.deal_id, 'last_touch'::text AS model, deal.created_at, deal.epik, deal.epik_raw, deal.utm_source,
       deal.utm_campaign, deal.utm_content, deal.pinterest_campaign_id, deal.pinterest_ad_group_id,
       deal.pinterest_ad_id, deal.analytics_source
FROM raw.hubspot_deals AS deal
UNION ALL
SELECT deal.deal_id, 'first_touch', deal.created_at, deal.first_touch_epik, deal.first_touch_epik_raw,
       deal.first_touch_utm_source, deal.first_touch_utm_campaign, deal.first_touch_utm_content,
       deal.first_touch_pinterest_campaign_id, deal.first_touch_pinterest_ad_group_id, deal.first_touch_pinterest_ad_id,
       deal.analytics_source
FROM raw.hubspot_deals AS deal
-- the predicate of the partial index hubspot_deals_first_touch (migration 083), word for word
WHERE num_nonnulls(deal.first_touch_epik_raw, deal.first_touch_utm_source, deal.first_touch_utm_medium,
                   deal.first_touch_utm_campaign, deal.first_touch_utm_content, deal.first_touch_pinterest_campaign_id,
                   deal.first_touch_pinterest_ad_group_id, deal.first_touch_pinterest_ad_id) > 0
  AND (deal.first_touch_epik_raw, deal.first_touch_utm_source, deal.first_touch_utm_medium,
       deal.first_touch_utm_campaign, deal.first_touch_utm_content, deal.first_touch_pinterest_campaign_id,
       deal.first_touch_pinterest_ad_group_id, deal.first_touch_pinterest_ad_id)
      IS DISTINCT FROM (deal.epik_raw, deal.utm_source, deal.utm_medium, deal.utm_campaign, deal.utm_content,
                        deal.pinterest_campaign_id, deal.pinterest_ad_group_id, deal.pinterest_ad_id);
