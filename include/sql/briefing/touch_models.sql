-- Each campaign's won deals over the 28 days under both touch models (mart.performance's `model`), for the line
-- where they disagree (pin2deal.briefing.rules.touch_models_disagree). Campaigns with a won deal under either.
SELECT grain_id AS campaign_id,
       (array_agg(name ORDER BY period_start DESC) FILTER (WHERE name IS NOT NULL))[1] AS name,
       COALESCE(sum(won) FILTER (WHERE model = 'first_touch'), 0) AS first_touch_won,
       COALESCE(sum(won) FILTER (WHERE model = 'last_touch'), 0) AS last_touch_won
FROM mart.performance
WHERE grain = 'campaign' AND period = 'day' AND period_start BETWEEN %(first)s AND %(last)s
  AND EXISTS (SELECT FROM mart.performance WHERE model = 'first_touch')  -- rows published before migration 086: no line
GROUP BY grain_id
HAVING sum(won) > 0;
