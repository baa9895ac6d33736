-- A re-pull replaces, never adds: the rows of the ads and days just pulled that Pinterest did not report this time
-- (a restatement to nothing, an ad's delivery revoked) are deleted, in the transaction that upserted the rest, and
-- each is kept whole in raw.pinterest_ad_daily_deleted with the reason. The caller runs this in a savepoint and
-- rolls it back when the answer is not trustworthy (pin2deal.pinterest.spend.DeletionRule).
-- %(ad_ids)s: the ads asked for; %(reported_ad_ids)s and %(reported_dates)s: the (ad, day) keys of the answer.
WITH gone AS (
    DELETE FROM raw.pinterest_ad_daily AS daily
    WHERE daily.ad_id = ANY(%(ad_ids)s::text[])
      AND daily.date BETWEEN %(start_date)s AND %(end_date)s
      AND NOT EXISTS (
          SELECT FROM unnest(%(reported_ad_ids)s::text[], %(reported_dates)s::date[]) AS reported (ad_id, date)
          WHERE reported.ad_id = daily.ad_id AND reported.date = daily.date
      )
    RETURNING daily.*
)
INSERT INTO raw.pinterest_ad_daily_deleted
SELECT gone.*, now(), current_setting('pin2deal.run_id', true), %(reason)s FROM gone
RETURNING ad_id, date, spend_micro, impressions
