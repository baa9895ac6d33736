-- The CRM side of mart.performance is now rolled up the hierarchy from day-level events (deal contributions per ad
-- account / campaign / ad group / ad and day), as the spend side is: pending changes take the same shape.
DROP VIEW IF EXISTS mart.time_to_close;
DROP VIEW IF EXISTS mart.deal_contributions;
DROP TABLE mart.performance_pending;

-- Signed day-level contributions of the deals a reconcile changed (+new, -old), between its deals step and its
-- performance step (each one transaction, so a retried step never applies a change twice). Empty between runs.
CREATE UNLOGGED TABLE mart.performance_pending (
    ad_account_id            text,
    campaign_id              text,
    ad_group_id              text,
    ad_id                    text,
    day                      date    NOT NULL,
    leads                    integer NOT NULL,
    won                      integer NOT NULL,
    revenue                  numeric NOT NULL,
    leads_won_to_date        integer NOT NULL,
    pinterest_won            integer NOT NULL,
    pinterest_won_with_epik  integer NOT NULL
);
