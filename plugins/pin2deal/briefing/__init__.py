"""The daily briefing: rules (pure text), the pipeline that reads the marts, the chart, the optional rewrite."""
