-- Signed day-level contributions (+new, -old) of the deals a reconcile changed to mart.channel_performance, between its
-- deals step and its channels step (each one transaction, so a retried step never applies a change twice), as
-- mart.performance_pending is for mart.performance. Empty between runs.
CREATE UNLOGGED TABLE mart.channel_performance_pending (
    channel_name  text    NOT NULL,
    day           date    NOT NULL,
    leads         integer NOT NULL,
    won           integer NOT NULL,
    revenue       numeric NOT NULL
);
