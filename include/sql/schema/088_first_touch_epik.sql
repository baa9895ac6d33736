-- The first touch's click id (issue 23 §1, docs/attribution.md "Touch models"): mart.deal_attribution's `epik` is the
-- last touch's; `first_touch_epik` is the first touch's normalised click id (raw.hubspot_deals.first_touch_epik) when
-- the deal's first touch differs from its last, else its `epik`. The first-touch figures that read an epik
-- (mart.performance's pinterest_won_with_epik under 'first_touch') read it. Rows written before this migration have
-- NULL here: the next reconcile rebuilds every mart (its rule files changed).
ALTER TABLE mart.deal_attribution_generations ADD COLUMN first_touch_epik text;

-- The view shows the new column (appended: every existing column keeps its place).
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
