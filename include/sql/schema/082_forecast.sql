-- The forecast CAC (docs/reconcile.md, "Forecast CAC"): open Pinterest-paid deals weighted by their stage's
-- probability (HubSpot's stage metadata) are expected wins; forecast CAC = spend / (won + expected wins).
-- mart.deal_attribution keeps the stage facts each lineage was published with (so an incremental run subtracts
-- exactly what it added), mart.performance sums the open leads per lead day beside leads_won_to_date, and
-- mart.cohort_cac shows the forecast beside the cohort's actual CAC. Rows written before this migration have NULL
-- here: the next reconcile rebuilds every mart (its rule files changed).
ALTER TABLE mart.deal_attribution_generations
    ADD COLUMN stage_closed boolean,        -- the deal's current stage is closed (won or lost); NULL: unknown stage
    ADD COLUMN stage_probability numeric;   -- that stage's probability (metadata.probability); NULL: none

ALTER TABLE mart.performance_generations
    ADD COLUMN leads_open integer,                      -- of leads, those neither won nor lost now
    ADD COLUMN leads_expected_wins numeric,             -- their stage probabilities, summed
    ADD COLUMN leads_expected_revenue numeric,          -- their amount_home x probability, summed (home currency)
    ADD COLUMN leads_open_without_probability integer,  -- of leads_open, those in a stage without a probability
    ADD COLUMN forecast_cac numeric,                    -- spend / (leads_won_to_date + leads_expected_wins)
    -- The contract, checked on every row written, as 050's: an incremental run that drifted from a rebuild fails.
    ADD CONSTRAINT performance_open_leads_within_leads
        CHECK (leads_open >= 0 AND leads_open + leads_won_to_date <= leads
               AND leads_open_without_probability BETWEEN 0 AND leads_open) NOT VALID,
    ADD CONSTRAINT performance_expected_not_negative
        CHECK (leads_expected_wins >= 0 AND leads_expected_revenue >= 0) NOT VALID,
    ADD CONSTRAINT performance_forecast_only_with_spend CHECK (spend > 0 OR forecast_cac IS NULL) NOT VALID;

ALTER TABLE mart.performance_pending
    ADD COLUMN leads_open integer NOT NULL DEFAULT 0,
    ADD COLUMN leads_expected_wins numeric NOT NULL DEFAULT 0,
    ADD COLUMN leads_expected_revenue numeric NOT NULL DEFAULT 0,
    ADD COLUMN leads_open_without_probability integer NOT NULL DEFAULT 0;

ALTER TABLE mart.cohort_cac_generations
    ADD COLUMN open_deals integer,
    ADD COLUMN expected_wins numeric,
    ADD COLUMN expected_revenue numeric,
    ADD COLUMN expected_revenue_currency text,
    ADD COLUMN open_without_probability integer,
    ADD COLUMN forecast_cac numeric;

-- The views show the new columns (appended: every existing column keeps its place).
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['deal_attribution', 'performance'] LOOP
        EXECUTE format(
            'CREATE OR REPLACE VIEW mart.%I AS SELECT %s FROM mart.%I WHERE generation = (SELECT mart.generation())',
            name,
            (SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute
             WHERE attrelid = format('mart.%I', name || '_generations')::regclass AND attnum > 0
               AND NOT attisdropped AND attname <> 'generation'),
            name || '_generations');
    END LOOP;
END
$$;

CREATE OR REPLACE VIEW mart.cohort_cac AS  -- as migration 080's, with the forecast
SELECT cohort.grain, cohort.grain_id, cohort.ad_account_id, cohort.campaign_id, cohort.ad_group_id, cohort.ad_id,
       cohort.name, cohort.cohort_month, cohort.spend, cohort.spend_currency, cohort.leads, cohort.won_to_date,
       cohort.cac,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 7, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_7d END AS won_within_7d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 30, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_30d END AS won_within_30d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, 90, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_90d END AS won_within_90d,
       CASE WHEN mart.cohort_window_closed(cohort.cohort_month, cohort.window_days, cohort.ad_account_id,
                                           (SELECT mart.published_as_of()))
            THEN cohort.won_within_window END AS won_within_window,
       cohort.window_days,
       cohort.open_deals, cohort.expected_wins, cohort.expected_revenue, cohort.expected_revenue_currency,
       cohort.open_without_probability, cohort.forecast_cac
FROM mart.cohort_cac_generations AS cohort
WHERE cohort.generation = (SELECT mart.generation());
