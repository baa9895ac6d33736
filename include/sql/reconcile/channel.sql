-- Rule: channel. Pinterest paid = the deal carries an epik (Pinterest's click id; a malformed one still came from a
-- click); Pinterest organic = utm_source is pinterest (any case) and no epik; other = any other utm_source or
-- HubSpot original source; unknown = no source at all. channel_name is what other channels' spend is filed under.
-- Decided per touch (touch.sql): a deal's last touch, and its first touch when that has values of its own.
CREATE OR REPLACE VIEW mart.deal_channel AS
SELECT deal.deal_id,
       named.channel,
       CASE WHEN named.channel IN ('pinterest_paid', 'pinterest_organic') THEN 'pinterest'
            WHEN named.channel = 'other' THEN COALESCE(named.utm_source, named.analytics_source)
       END AS channel_name,
       deal.model
FROM mart.deal_touch AS deal
CROSS JOIN LATERAL (
    SELECT lower(NULLIF(btrim(deal.utm_source), '')) AS utm_source,
           lower(NULLIF(btrim(deal.analytics_source), '')) AS analytics_source
) AS source
CROSS JOIN LATERAL (
    SELECT source.utm_source,
           source.analytics_source,
           CASE WHEN deal.epik IS NOT NULL OR NULLIF(btrim(deal.epik_raw), '') IS NOT NULL THEN 'pinterest_paid'
                WHEN source.utm_source = 'pinterest' THEN 'pinterest_organic'
                WHEN source.utm_source IS NOT NULL OR source.analytics_source IS NOT NULL THEN 'other'
                ELSE 'unknown'
           END AS channel
) AS named;
