-- Rule: CAC = spend / won deals, in the spend's currency; NULL (never 0 or infinity) when nothing was won, and when
-- nothing (or nothing known) was spent: deals won in a period without spend were bought by earlier spend, and a CAC
-- of 0 would rank that period best.
CREATE OR REPLACE FUNCTION mart.cac(spend numeric, won bigint) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN round(NULLIF(spend, 0) / NULLIF(won, 0), 4);
