-- Rule: CAC = spend / won deals, in the spend's currency; NULL (never 0 or infinity) when nothing was won.
CREATE OR REPLACE FUNCTION mart.cac(spend numeric, won bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN round(spend / NULLIF(won, 0), 4);
