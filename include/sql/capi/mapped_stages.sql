-- The stages mapped to Conversions API events (the parameter stages) as the portal's pipelines have them: one row per
-- mapped stage, with the live pipelines holding it (none: not a stage of the portal) and whether it is a closed-won
-- stage in one (its event is the checkout); known: every live stage id of the portal (NULL: no pipeline read yet).
SELECT mapped.stage,
       array_remove(array_agg(DISTINCT stage.pipeline_id), NULL) AS pipelines,
       coalesce(bool_or(stage.is_closed_won), false) AS closed_won,
       (SELECT string_agg(DISTINCT stage_id, ', ' ORDER BY stage_id) FROM raw.hubspot_pipeline_stages
        WHERE NOT archived) AS known
FROM unnest(%(stages)s::text[]) AS mapped (stage)
LEFT JOIN raw.hubspot_pipeline_stages AS stage ON stage.stage_id = mapped.stage AND NOT stage.archived
GROUP BY mapped.stage
ORDER BY mapped.stage
