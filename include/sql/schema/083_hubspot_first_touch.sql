-- The first touch (issue 23 §1, docs/reconcile.md "Touch models"): the first-touch roles of the hubspot_default
-- mapping (first_touch_epik, first_touch_utm_source, ...), typed by the extraction as their last-touch roles are
-- (epik validated, the raw value kept; the others trimmed). NULL when the role is not mapped or the deal has no
-- value. Deals loaded before this migration gain them when re-read (a full refresh).
ALTER TABLE raw.hubspot_deals
    ADD COLUMN first_touch_epik text,                   -- the first touch's Pinterest click id when valid
    ADD COLUMN first_touch_epik_raw text,
    ADD COLUMN first_touch_utm_source text,
    ADD COLUMN first_touch_utm_medium text,
    ADD COLUMN first_touch_utm_campaign text,
    ADD COLUMN first_touch_utm_content text,
    ADD COLUMN first_touch_pinterest_campaign_id text,
    ADD COLUMN first_touch_pinterest_ad_group_id text,
    ADD COLUMN first_touch_pinterest_ad_id text;

-- The deals whose first touch is not their last (the only ones the reconcile resolves twice): found by an index
-- rather than a scan of every deal.
CREATE INDEX hubspot_deals_first_touch ON raw.hubspot_deals (deal_id)
    WHERE num_nonnulls(first_touch_epik_raw, first_touch_utm_source, first_touch_utm_medium, first_touch_utm_campaign,
                       first_touch_utm_content, first_touch_pinterest_campaign_id, first_touch_pinterest_ad_group_id,
                       first_touch_pinterest_ad_id) > 0;
