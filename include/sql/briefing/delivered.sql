-- Record that a briefing day was posted (where, when).
UPDATE ops.briefings SET delivered_to = %(delivered_to)s, delivered_at = now() WHERE briefing_date = %(briefing_date)s;
