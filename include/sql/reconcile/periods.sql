-- Rule: periods. Days are the ad account's local days; a week is the ISO week (starting Monday), a month the
-- calendar month. period_end is exclusive.
-- Computed with date arithmetic (1900-01-01 was a Monday) and date_trunc on a timestamp without time zone: the
-- same days as extract(isodow ...) and date_trunc on a date, which go through numeric and time-zone conversions and
-- cost several times more over millions of ad-day rows.
CREATE OR REPLACE FUNCTION mart.period_start(period text, day date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE period WHEN 'day' THEN day
                       WHEN 'week' THEN day - ((day - DATE '1900-01-01') % 7 + 7) % 7
                       WHEN 'month' THEN date_trunc('month', day::timestamp)::date
           END;

CREATE OR REPLACE FUNCTION mart.period_end(period text, period_start date) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE period WHEN 'day' THEN period_start + 1
                       WHEN 'week' THEN period_start + 7
                       WHEN 'month' THEN (period_start + interval '1 month')::date
           END;
