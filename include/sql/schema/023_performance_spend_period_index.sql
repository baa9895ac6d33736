-- An incremental reconcile recomputes the spend of the periods containing re-pulled days; rows of those periods that
-- had delivery are found through this index instead of a scan of mart.performance. A full rebuild drops it and
-- builds it again after writing every row (include/sql/reconcile/performance.sql).
CREATE INDEX performance_spend_period ON mart.performance (period, period_start) WHERE ad_days > 0;
