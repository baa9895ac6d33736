-- Rule: ROAS = CRM revenue (home currency) / spend (ad account currency). NULL when there was no spend, or when the
-- two currencies differ: amounts in two currencies are never divided (nor added).
CREATE OR REPLACE FUNCTION mart.roas(revenue numeric, revenue_currency text, spend numeric, spend_currency text)
    RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN revenue_currency = spend_currency THEN round(revenue / NULLIF(spend, 0), 4) END;
