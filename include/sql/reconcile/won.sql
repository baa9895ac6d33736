-- Rule: won. The current stage metadata decides: a deal is won when its (pipeline, dealstage) is a closed-won stage
-- of raw.hubspot_pipeline_stages as last read; only when its stage is unknown there does HubSpot's own
-- hs_is_closed_won flag decide. So an edited pipeline or stage re-decides every deal on the next reconcile.
-- Won time: the deal's (latest) entry into its current closed-won stage (hs_v2_date_entered_<stage id>), else its
-- closedate. A deal won, re-opened and won again is won once, at its last entry.
-- An entry at the deal's own creation (within a second of its createdate or of the instant HubSpot created the
-- record) tells when the deal was imported, not when it was won: HubSpot computes stage entries itself, so a deal a
-- CRM migration re-creates enters its current stage at the import's instant. Its closedate (an import keeps it)
-- is its won time then, and entered_at_creation flags it (docs/hubspot.md). This is a deal's own won time; the
-- moment its lineage keeps is decided in deal_attribution.sql (a migration's successor never moves it).
CREATE OR REPLACE VIEW mart.deal_won AS
SELECT deal.deal_id,
       decided.is_won,
       CASE WHEN decided.is_won AND entry.at_creation THEN COALESCE(deal.closed_at, entry.entered_at)
            WHEN decided.is_won THEN COALESCE(entry.entered_at, deal.closed_at)
       END AS won_at,
       decided.is_won AND entry.at_creation AS entered_at_creation
FROM raw.hubspot_deals AS deal
LEFT JOIN raw.hubspot_pipeline_stages AS stage
       ON stage.pipeline_id = deal.pipeline AND stage.stage_id = deal.dealstage
CROSS JOIN LATERAL (SELECT COALESCE(stage.is_closed_won, deal.hs_is_closed_won, false) AS is_won) AS decided
CROSS JOIN LATERAL (SELECT (deal.stage_entered_at ->> deal.dealstage)::timestamptz AS entered_at) AS entered
CROSS JOIN LATERAL (
    SELECT entered.entered_at,
           COALESCE(abs(extract(epoch FROM entered.entered_at - deal.created_at)) <= 1
                    OR abs(extract(epoch FROM entered.entered_at - deal.hubspot_created_at)) <= 1, false) AS at_creation
) AS entry;
