-- The lead and won moments each deal lineage was published with (issue 20; docs/reconcile.md, "Identity and time").
-- HubSpot sets a re-created deal's createdate and its entry into its current stage to the import's instant, so after
-- a CRM migration the current deal no longer says when its sale started or was won: the reconcile
-- (include/sql/reconcile/deal_attribution.sql) reads these moments back and keeps them, so a migration or a merge
-- moves no lead day, won day, time to close or conversion event time. In ops, not mart: a full rebuild of the marts
-- empties them, this table it only reads and updates.
CREATE TABLE ops.lineage_moments (
    stable_key      text        PRIMARY KEY,  -- the lineage's key when observed; after a merge or a re-key that key
                                              -- is an alias of the lineage's (raw.hubspot_deal_ids.alias_id)
    lead_at         timestamptz,              -- the earliest lead moment published: never moves later
    won_at          timestamptz,              -- the won moment published (kept while the lineage is not won)
    won_deal_id     bigint,                   -- the deal whose own won time won_at is
    deal_id         bigint,                   -- the deal that held the lineage when it was last seen won
    deal_won_entry  timestamptz,              -- that deal's own won time then: when it changes, the deal won again
    observed_at     timestamptz NOT NULL DEFAULT now(),
    run_id          text
);
COMMENT ON TABLE ops.lineage_moments IS
    'lead and won moments each lineage was published with; the reconcile keeps them (docs/reconcile.md)';

-- What the marts publish now is what has been observed so far.
INSERT INTO ops.lineage_moments (stable_key, lead_at, won_at, won_deal_id, deal_id, deal_won_entry)
SELECT stable_key, lead_at, won_at,
       CASE WHEN won_at IS NOT NULL THEN deal_id END, CASE WHEN is_won THEN deal_id END,
       CASE WHEN is_won THEN won_at END
FROM mart.deal_attribution;
