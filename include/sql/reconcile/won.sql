-- Rule: won. The current stage metadata decides: a deal is won when its (pipeline, dealstage) is a closed-won stage
-- of raw.hubspot_pipeline_stages as last read; only when its stage is unknown there does HubSpot's own
-- hs_is_closed_won flag decide. So an edited pipeline or stage re-decides every deal on the next reconcile.
-- Won time: the deal's (latest) entry into its current closed-won stage (hs_v2_date_entered_<stage id>), else its
-- closedate. A deal won, re-opened and won again is won once, at its last entry.
CREATE OR REPLACE VIEW mart.deal_won AS
SELECT deal.deal_id,
       decided.is_won,
       CASE WHEN decided.is_won
            THEN COALESCE((deal.stage_entered_at ->> deal.dealstage)::timestamptz, deal.closed_at)
       END AS won_at
FROM raw.hubspot_deals AS deal
LEFT JOIN raw.hubspot_pipeline_stages AS stage
       ON stage.pipeline_id = deal.pipeline AND stage.stage_id = deal.dealstage
CROSS JOIN LATERAL (SELECT COALESCE(stage.is_closed_won, deal.hs_is_closed_won, false) AS is_won) AS decided;
