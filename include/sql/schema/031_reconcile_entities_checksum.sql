-- The Pinterest entities each reconcile run saw (mart.pinterest_entity: names and hierarchy), as one checksum: any
-- change since the last finished run, a case-only rename included, rebuilds every mart (an incremental run rewrites
-- the names of the rows it touches only).
ALTER TABLE ops.reconcile_runs ADD COLUMN entities_checksum text;
