-- The daily briefing (issue 11, docs/briefing.md): one row per briefing day; a re-run of the day replaces it.
-- The chart is kept here too, so the Airflow UI page and later readers need no access to the files' folder.
CREATE TABLE ops.briefings (
    briefing_date      date        PRIMARY KEY,  -- the account day the briefing is about
    timezone           text        NOT NULL,     -- the ad account's time zone: the days' definition
    markdown           text        NOT NULL,     -- what readers get: the template's text or its accepted rewrite
    template_markdown  text        NOT NULL,     -- the template's text (deterministic)
    rewrite_note       text,                     -- the language-model rewrite's verdict (NULL: rewrite off)
    stale              boolean     NOT NULL,     -- the briefing opens with a stale-data warning
    facts              jsonb       NOT NULL,     -- the numbers the text was rendered from (audit)
    settings           jsonb       NOT NULL,     -- the judgement thresholds in force
    chart_png          bytea       NOT NULL,
    chart_svg          text        NOT NULL,
    markdown_path      text,                     -- the files written under the briefing folder
    chart_png_path     text,
    chart_svg_path     text,
    run_id             text,
    generated_at       timestamptz NOT NULL DEFAULT now(),
    delivered_to       text,                     -- e.g. 'slack:slack_briefing' once posted
    delivered_at       timestamptz
);
