-- The incremental reconcile's lookup of mart.performance rows with delivery in the periods it recomputes, on the
-- period's start date alone (the period is a cheap filter among a day's few rows): a full rebuild builds this index
-- again after writing every row, and dates sort several times faster than the (period text, date) pairs of 023.
DROP INDEX mart.performance_spend_period;
CREATE INDEX performance_spend_period_start ON mart.performance (period_start) WHERE ad_days > 0;
