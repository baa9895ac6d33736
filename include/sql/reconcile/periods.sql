-- Rule: periods. Days are the ad account's local days; a week is the ISO week (starting Monday), a month the
-- calendar month. period_end is exclusive.
CREATE OR REPLACE FUNCTION mart.period_start(period text, day date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE period WHEN 'day' THEN day
                       WHEN 'week' THEN (day - (extract(isodow FROM day)::integer - 1))
                       WHEN 'month' THEN date_trunc('month', day)::date
           END;

CREATE OR REPLACE FUNCTION mart.period_end(period text, period_start date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE period WHEN 'day' THEN period_start + 1
                       WHEN 'week' THEN period_start + 7
                       WHEN 'month' THEN (period_start + interval '1 month')::date
           END;
