-- The chart of one briefing day, as stored by daily_briefing.
SELECT chart_png FROM ops.briefings WHERE briefing_date = %(day)s;
