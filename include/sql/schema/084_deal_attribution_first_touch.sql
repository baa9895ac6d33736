-- Both touch models on every deal (issue 23 §1, docs/reconcile.md "Touch models"): mart.deal_attribution's
-- channel, campaign, ad group, ad and how each was resolved are the last touch's; these are the first touch's,
-- resolved by the same rules from the deal's first-touch properties, or equal to the last touch's when the deal has
-- none that differ. Rows written before this migration have NULL here: the next reconcile rebuilds every mart (its
-- rule files changed).
ALTER TABLE mart.deal_attribution_generations
    ADD COLUMN first_touch_channel text
        CHECK (first_touch_channel IN ('pinterest_paid', 'pinterest_organic', 'other', 'unknown')),
    ADD COLUMN first_touch_channel_name text,
    ADD COLUMN first_touch_ad_account_id text,
    ADD COLUMN first_touch_campaign_id text,
    ADD COLUMN first_touch_ad_group_id text,
    ADD COLUMN first_touch_ad_id text,
    ADD COLUMN first_touch_campaign_resolved_by text
        CHECK (first_touch_campaign_resolved_by IN ('macro_id', 'utm_id', 'utm_name', 'unresolved')),
    ADD COLUMN first_touch_ad_group_resolved_by text
        CHECK (first_touch_ad_group_resolved_by IN ('macro_id', 'utm_id', 'utm_name', 'unresolved')),
    ADD COLUMN first_touch_ad_resolved_by text
        CHECK (first_touch_ad_resolved_by IN ('macro_id', 'utm_id', 'utm_name', 'unresolved')),
    ADD COLUMN first_touch_differs boolean;  -- the first touch came from first-touch values of its own

-- The view shows the new columns (appended: every existing column keeps its place).
DO $$
BEGIN
    EXECUTE format(
        'CREATE OR REPLACE VIEW mart.deal_attribution AS SELECT %s FROM mart.deal_attribution_generations '
        'WHERE generation = (SELECT mart.generation())',
        (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = 'mart.deal_attribution_generations'::regclass AND attnum > 0
           AND NOT attisdropped AND attname <> 'generation'));
END
$$;
