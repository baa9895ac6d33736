-- Rule: the forecast CAC (docs/attribution.md, "Forecast CAC"). A deal is *open* while it is neither won (the won rule)
-- nor in a closed stage (a closed stage that is not won is lost). A won deal is one win; a lost deal is none; an open
-- deal is expected to win with its stage's probability (HubSpot's stage metadata as last read: the stage settings
-- decide, as for the won rule), or NULL when its stage has no probability (or is a stage pin2deal does not know).
-- Forecast CAC = spend / (won + expected wins of the open deals): NULL (never a guess) when any open deal's
-- probability is unknown, and, as CAC, when nothing was spent or nothing is won or expected.
CREATE OR REPLACE FUNCTION mart.deal_is_open(is_won boolean, stage_closed boolean) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN NOT is_won AND NOT COALESCE(stage_closed, false);

CREATE OR REPLACE FUNCTION mart.expected_win(is_won boolean, stage_closed boolean, stage_probability numeric)
    RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN is_won THEN 1 WHEN mart.deal_is_open(is_won, stage_closed) THEN stage_probability ELSE 0 END;

CREATE OR REPLACE FUNCTION mart.forecast_cac(spend numeric, won bigint, expected_wins numeric,
                                             open_without_probability bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN open_without_probability = 0
                THEN round(NULLIF(spend, 0) / NULLIF(won + expected_wins, 0), 4) END;
