-- One row per briefing day: a re-run of the day replaces its text, chart and files (and keeps its delivery record).
INSERT INTO ops.briefings AS b (
    briefing_date, timezone, markdown, template_markdown, rewrite_note, stale, facts, settings, chart_png,
    chart_svg, markdown_path, chart_png_path, chart_svg_path, run_id, generated_at)
VALUES (
    %(briefing_date)s, %(timezone)s, %(markdown)s, %(template_markdown)s, %(rewrite_note)s, %(stale)s, %(facts)s,
    %(settings)s, %(chart_png)s, %(chart_svg)s, %(markdown_path)s, %(chart_png_path)s, %(chart_svg_path)s,
    %(run_id)s, now())
ON CONFLICT (briefing_date) DO UPDATE
SET timezone = EXCLUDED.timezone, markdown = EXCLUDED.markdown, template_markdown = EXCLUDED.template_markdown,
    rewrite_note = EXCLUDED.rewrite_note, stale = EXCLUDED.stale, facts = EXCLUDED.facts,
    settings = EXCLUDED.settings, chart_png = EXCLUDED.chart_png, chart_svg = EXCLUDED.chart_svg,
    markdown_path = EXCLUDED.markdown_path, chart_png_path = EXCLUDED.chart_png_path,
    chart_svg_path = EXCLUDED.chart_svg_path, run_id = EXCLUDED.run_id, generated_at = now();
