-- The match keys each event sent carried (issue 22, "the match-quality loop"): the names of its user_data fields
-- (click_id, em, ph, external_id, fn, ln, ct, st, zp, country, ge, db, client_ip_address, client_user_agent),
-- written with the event's payload hash when its request is recorded (include/sql/capi/record_intent.sql), so the
-- briefing and the pin2deal page count the week's sent events carrying the click id, an email, a phone
-- (include/sql/capi/match_keys.sql). NULL: a row decided before this migration, or never sent (a skip, a dry
-- run, test mode): the counts leave such rows out rather than read them as events without any key.
ALTER TABLE ops.capi_ledger ADD COLUMN match_keys text[];
COMMENT ON COLUMN ops.capi_ledger.match_keys IS
    'user_data field names of the event as last sent (NULL: recorded before migration 076, or never sent)';
