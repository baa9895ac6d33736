-- When each Conversions API decision was made (issue 21): the briefing's health line counts the decisions of its day.
-- The sender rewrites the rows it decides again unchanged (a skipped event is decided on every run), so neither
-- updated_at nor the attempt times say when a decision was made: decided_at does. It is set when a row is inserted
-- and moved when its state or reason changes (a new attempt, in_flight, is a new decision), by whatever statement
-- writes the row: a trigger, so the rule holds whatever the sender's SQL rewrites, and lives here only.
ALTER TABLE ops.capi_ledger ADD COLUMN decided_at timestamptz;

-- Rows decided before this migration: the best evidence there is. Sent when Pinterest processed it, failed, pending
-- or in flight at its last attempt; a skip's day is unknown (its row was rewritten run after run): NULL, no day.
UPDATE ops.capi_ledger
SET decided_at = CASE WHEN state = 'sent' THEN sent_at WHEN state <> 'skipped' THEN last_attempt_at END;

ALTER TABLE ops.capi_ledger ALTER COLUMN decided_at SET DEFAULT now();

CREATE FUNCTION ops.capi_ledger_decided() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.decided_at := now();
    RETURN NEW;
END
$$;

-- The WHEN clause keeps rewrites of unchanged rows (most of an hourly run) out of PL/pgSQL altogether.
CREATE TRIGGER capi_ledger_decided BEFORE UPDATE OF state, reason ON ops.capi_ledger
FOR EACH ROW WHEN ((OLD.state, OLD.reason) IS DISTINCT FROM (NEW.state, NEW.reason))
EXECUTE FUNCTION ops.capi_ledger_decided();

CREATE INDEX capi_ledger_decided_at ON ops.capi_ledger (decided_at);
