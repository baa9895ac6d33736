-- The reconciliation's verdict on every deal in raw, from the ids HubSpot lists now (temp table listed_deals:
-- deal_id, archived, archived_at; filled by the caller in this transaction). Rows are never deleted:
--   not listed at all           -> deleted_at (when first found gone), unless merged into another deal (its own
--                                  status) or first seen after the listing started
--   listed (active or archived) -> deleted_at cleared: the deal came back
--   listed archived / active    -> archived, archived_at as HubSpot says (recycle bin, restore)
-- %(started)s = when the listing started; %(run_id)s = the run. Returns one row per changed deal.
UPDATE raw.hubspot_deals AS deal
SET deleted_at = verdict.deleted_at, archived = verdict.archived, archived_at = verdict.archived_at,
    loaded_at = now(), run_id = %(run_id)s
FROM (
    SELECT current.deal_id,
           current.deleted_at AS was_deleted_at, current.archived AS was_archived,
           CASE WHEN listed.deal_id IS NOT NULL THEN NULL
                WHEN current.merged_into_deal_id IS NULL AND current.first_seen_at < %(started)s
                    THEN COALESCE(current.deleted_at, %(started)s)
                ELSE current.deleted_at END AS deleted_at,
           COALESCE(listed.archived, current.archived) AS archived,
           CASE WHEN listed.deal_id IS NULL THEN current.archived_at
                WHEN listed.archived THEN COALESCE(listed.archived_at, current.archived_at) END AS archived_at
    FROM raw.hubspot_deals AS current
    LEFT JOIN listed_deals AS listed ON listed.deal_id = current.deal_id
) AS verdict
WHERE deal.deal_id = verdict.deal_id
  AND (deal.deleted_at, deal.archived, deal.archived_at)
      IS DISTINCT FROM (verdict.deleted_at, verdict.archived, verdict.archived_at)
RETURNING deal.deal_id,
          verdict.was_deleted_at IS NULL AND verdict.deleted_at IS NOT NULL AS deleted,
          verdict.was_deleted_at IS NOT NULL AND verdict.deleted_at IS NULL AS restored,
          verdict.archived <> verdict.was_archived AS archive_changed;
