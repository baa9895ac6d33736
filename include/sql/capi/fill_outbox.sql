-- The Conversions API outbox from the reconciled deals: one row per won deal (every channel: the sender records why
-- a deal of a channel it does not send is skipped; a won deal without a won time too), keyed by 'won_' || stable key.
-- Only the lineages of deals that changed since the last fill are looked at: mart rows the reconcile (re)wrote, raw
-- deals loaded (a deletion, an archive) and contacts loaded (an e-mail or a consent changed); a lineage is every
-- alias of their keys, so a merged deal's former row is found from the survivor. A row whose inputs changed is
-- flagged undecided for the sender (unless its event was sent: sent is final); a deal no longer won leaves the outbox
-- (its ledger row stays, as the record of what was decided or sent). Contacts are the deal's current associations,
-- live ones only, in contact id order. Run in one transaction, statement by statement; the last one returns counts.

-- Changes are looked for from the last fill's watermark: the start of the oldest transaction still open when it
-- began (rows carry their transaction's start time and become visible only when it commits), or its own start,
-- and never past what the published marts reflect (the raw watermark of the reconcile run that published them): a
-- deal loaded but not yet reconciled is looked at again once the marts show it (a deletion removes its mart row,
-- which leaves nothing else to find). A generation of the marts published since the last fill (a rebuild: its rows
-- were written before it was published, and a deal it no longer holds left no trace) is looked at whole.
CREATE TEMP TABLE capi_fill_window ON COMMIT DROP AS
SELECT coalesce(
           (SELECT (position ->> 'next_since')::timestamptz FROM ops.watermarks
            WHERE source = 'capi.outbox' AND scope = 'fill'
              AND (position ->> 'generation')::bigint = mart.generation()),
           '-infinity'
       ) AS since,
       LEAST(statement_timestamp(), (
           SELECT min(xact_start) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()
       ), coalesce((
           SELECT runs.watermark FROM ops.mart_publication AS publication
           JOIN ops.reconcile_runs AS runs USING (run_id)
       ), '-infinity')) AS next_since,
       mart.generation() AS generation;

CREATE TEMP TABLE capi_changed_deals ON COMMIT DROP AS
SELECT deal_id FROM mart.deal_attribution WHERE reconciled_at >= (SELECT since FROM capi_fill_window)
UNION
SELECT deal_id FROM raw.hubspot_deals WHERE loaded_at >= (SELECT since FROM capi_fill_window)
UNION
SELECT link.deal_id
FROM raw.hubspot_contacts AS contact
JOIN raw.hubspot_deal_contacts AS link ON link.contact_id = contact.contact_id
WHERE contact.loaded_at >= (SELECT since FROM capi_fill_window);

CREATE TEMP TABLE capi_changed_keys ON COMMIT DROP AS
SELECT own.stable_key
FROM capi_changed_deals AS changed
JOIN raw.hubspot_deal_ids AS own ON own.deal_id = changed.deal_id AND own.via = 'self'
UNION
SELECT box.stable_key FROM capi_changed_deals AS changed JOIN ops.capi_outbox AS box USING (deal_id);

INSERT INTO capi_changed_keys
SELECT alias.alias_id
FROM raw.hubspot_deal_ids AS alias
WHERE alias.stable_key IN (SELECT stable_key FROM capi_changed_keys) AND alias.alias_id LIKE 'hubspot:%'
EXCEPT
SELECT stable_key FROM capi_changed_keys;

ANALYZE capi_changed_keys;

WITH won AS (
    SELECT a.stable_key, a.deal_id, a.channel, a.won_at, a.amount, d.amount_raw, a.currency,
           d.properties ->> 'deal_currency_code' AS currency_raw, a.epik,
           nullif(btrim(d.ip_address), '') AS ip_address, nullif(btrim(d.user_agent), '') AS user_agent,
           d.ads_consent AS deal_consent
    FROM mart.deal_attribution AS a
    JOIN raw.hubspot_deals AS d ON d.deal_id = a.deal_id
    WHERE a.is_won AND a.stable_key IN (SELECT stable_key FROM capi_changed_keys)
),
people AS (
    SELECT dc.deal_id,
           jsonb_agg(
               jsonb_build_object(
                   'contact_id', c.contact_id,
                   'email', c.email_normalized,
                   'phone_e164', c.phone_e164,
                   'phone', coalesce(nullif(btrim(c.phone), ''), nullif(btrim(c.mobilephone), '')),
                   'country', c.properties ->> 'country',
                   'first_name', c.first_name,
                   'last_name', c.last_name,
                   'consent', c.ads_consent
               ) ORDER BY c.contact_id
           ) AS contacts
    FROM raw.hubspot_deal_contacts AS dc
    JOIN raw.hubspot_contacts AS c ON c.contact_id = dc.contact_id AND NOT c.archived
    WHERE dc.deal_id IN (SELECT deal_id FROM won)
    GROUP BY dc.deal_id
),
outbox AS (
    SELECT 'won_' || w.stable_key AS event_id, w.stable_key, w.deal_id, w.channel, w.won_at, w.amount, w.amount_raw,
           w.currency, w.currency_raw, w.epik, w.ip_address, w.user_agent, w.deal_consent,
           coalesce(p.contacts, '[]'::jsonb) AS contacts
    FROM won AS w
    LEFT JOIN people AS p ON p.deal_id = w.deal_id
)
INSERT INTO ops.capi_outbox AS o (
    event_id, stable_key, deal_id, channel, won_at, amount, amount_raw, currency, currency_raw, epik, ip_address,
    user_agent, deal_consent, contacts, inputs_hash, undecided
)
SELECT event_id, stable_key, deal_id, channel, won_at, amount, amount_raw, currency, currency_raw, epik, ip_address,
       user_agent, deal_consent, contacts,
       md5(jsonb_build_array(channel, won_at, amount::text, amount_raw, currency, currency_raw, epik, ip_address,
                             user_agent, deal_consent, contacts)::text),
       NOT EXISTS (SELECT FROM ops.capi_ledger AS l WHERE l.event_id = outbox.event_id AND l.state = 'sent')
FROM outbox
ON CONFLICT (event_id) DO UPDATE SET
    deal_id = EXCLUDED.deal_id, channel = EXCLUDED.channel, won_at = EXCLUDED.won_at, amount = EXCLUDED.amount,
    amount_raw = EXCLUDED.amount_raw, currency = EXCLUDED.currency, currency_raw = EXCLUDED.currency_raw,
    epik = EXCLUDED.epik, ip_address = EXCLUDED.ip_address, user_agent = EXCLUDED.user_agent,
    deal_consent = EXCLUDED.deal_consent, contacts = EXCLUDED.contacts, inputs_hash = EXCLUDED.inputs_hash,
    undecided = o.undecided OR (EXCLUDED.undecided AND o.inputs_hash <> EXCLUDED.inputs_hash), updated_at = now()
WHERE (o.inputs_hash, o.deal_id) IS DISTINCT FROM (EXCLUDED.inputs_hash, EXCLUDED.deal_id);

DELETE FROM ops.capi_outbox AS o
WHERE o.stable_key IN (SELECT stable_key FROM capi_changed_keys)
  AND NOT EXISTS (SELECT FROM mart.deal_attribution AS a WHERE a.stable_key = o.stable_key AND a.is_won);

INSERT INTO ops.watermarks AS mark (source, scope, position, completed)
SELECT 'capi.outbox', 'fill',
       jsonb_build_object('since', since, 'next_since', next_since, 'generation', generation), true
FROM capi_fill_window
ON CONFLICT (source, scope) DO UPDATE SET position = EXCLUDED.position, updated_at = now();

SELECT (SELECT count(*) FROM capi_changed_deals) AS deals_changed,
       (SELECT count(*) FROM ops.capi_outbox WHERE undecided) AS undecided;
