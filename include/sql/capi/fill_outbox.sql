-- The Conversions API outbox from the reconciled deals: one row per lineage and event kind (docs/capi.md, "The
-- funnel"): a checkout per won deal (every channel: the sender records why a deal of a channel it does not send is
-- skipped; a won deal without a won time too), keyed by 'won_' || stable key, and a lead per deal, keyed by the tag's
-- event id when the CRM has it, else 'lead_' || stable key, and a stage event per lineage and mapped stage it entered
-- (the parameter stages: the stage ids of the operator's stage_events), keyed by 'stage_' || stage || '_' || stable
-- key.
-- Only the lineages of deals that changed since the last fill are looked at: mart rows the reconcile (re)wrote, raw
-- deals loaded (a deletion, an archive) and contacts loaded (an e-mail or a consent changed); a lineage is every
-- alias of their keys, so a merged deal's former row is found from the survivor. A row whose inputs changed is
-- flagged undecided for the sender (unless its event was sent: sent is final); a deal no longer won loses its
-- checkout row, a lead whose event id changed its former row (their ledger rows stay, as the record of what was
-- decided or sent). Contacts are the deal's current associations, live ones only, in contact id order, with their
-- matching values as the extraction typed them (the address, gender and date of birth only when known, so a contact
-- without them hashes its inputs as before they existed; its country as read until then when not yet typed). Run in
-- one transaction, statement by statement; the last one returns counts.

-- Every statement is run with the parameter stages (a sorted text[]): a literal percent sign is written doubled.

-- Changes are looked for from the last fill's watermark: the start of the oldest transaction still open when it
-- began (rows carry their transaction's start time and become visible only when it commits), or its own start,
-- and never past what the published marts reflect (the raw watermark of the reconcile run that published them): a
-- deal loaded but not yet reconciled is looked at again once the marts show it (a deletion removes its mart row,
-- which leaves nothing else to find). A generation of the marts published since the last fill (a rebuild: its rows
-- were written before it was published, and a deal it no longer holds left no trace) is looked at whole, and so
-- is everything when the mapped stages changed (a stage mapped now has rows to add, one unmapped rows to remove).
CREATE TEMP TABLE capi_fill_window ON COMMIT DROP AS
SELECT coalesce(
           (SELECT (position ->> 'next_since')::timestamptz FROM ops.watermarks
            WHERE source = 'capi.outbox' AND scope = 'fill'
              AND (position ->> 'generation')::bigint = mart.generation()
              AND coalesce(position -> 'stages', '[]') = to_jsonb(%(stages)s::text[])),
           '-infinity'
       ) AS since,
       LEAST(statement_timestamp(), (
           SELECT min(xact_start) FROM pg_stat_activity
           WHERE datname = current_database() AND pid <> pg_backend_pid()
       ), coalesce((
           SELECT runs.watermark FROM ops.mart_publication AS publication
           JOIN ops.reconcile_runs AS runs USING (run_id)
       ), '-infinity')) AS next_since,
       mart.generation() AS generation,
       to_jsonb(%(stages)s::text[]) AS stages;

CREATE TEMP TABLE capi_mapped_stages ON COMMIT DROP AS
SELECT DISTINCT unnest(%(stages)s::text[]) AS stage;

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
WHERE alias.stable_key IN (SELECT stable_key FROM capi_changed_keys) AND alias.alias_id LIKE 'hubspot:%%'
EXCEPT
SELECT stable_key FROM capi_changed_keys;

ANALYZE capi_changed_keys;

-- The tags' event ids the changed lineages hold or held: every lineage claiming one of them is looked at too, so
-- the tag goes to one lineage only (the earliest lead moment), whichever of them changed.
CREATE TEMP TABLE capi_changed_tags ON COMMIT DROP AS
SELECT deal.lead_event_id AS tag
FROM raw.hubspot_deal_ids AS own
JOIN raw.hubspot_deals AS deal ON deal.deal_id = own.deal_id
WHERE own.via = 'self' AND own.stable_key IN (SELECT stable_key FROM capi_changed_keys)
  AND deal.lead_event_id IS NOT NULL
UNION
SELECT contact.lead_event_id
FROM raw.hubspot_deal_ids AS own
JOIN raw.hubspot_deal_contacts AS link ON link.deal_id = own.deal_id
JOIN raw.hubspot_contacts AS contact ON contact.contact_id = link.contact_id
WHERE own.via = 'self' AND own.stable_key IN (SELECT stable_key FROM capi_changed_keys)
  AND contact.lead_event_id IS NOT NULL
UNION
SELECT event_id FROM ops.capi_outbox
WHERE event_kind = 'lead' AND event_id <> 'lead_' || stable_key
  AND stable_key IN (SELECT stable_key FROM capi_changed_keys);

INSERT INTO capi_changed_keys
SELECT a.stable_key
FROM raw.hubspot_deals AS deal JOIN mart.deal_attribution AS a ON a.deal_id = deal.deal_id
WHERE deal.lead_event_id IN (SELECT tag FROM capi_changed_tags)
UNION
SELECT a.stable_key
FROM raw.hubspot_contacts AS contact
JOIN raw.hubspot_deal_contacts AS link ON link.contact_id = contact.contact_id
JOIN mart.deal_attribution AS a ON a.deal_id = link.deal_id
WHERE contact.lead_event_id IN (SELECT tag FROM capi_changed_tags)
UNION
SELECT stable_key FROM ops.capi_outbox WHERE event_id IN (SELECT tag FROM capi_changed_tags)
EXCEPT
SELECT stable_key FROM capi_changed_keys;

-- The changed lineages' deals. A lead's moment is the lineage's (the mart's lead_at), unknown for a lineage first
-- seen through a CRM migration's import: a deal with a legacy id, keyed by its own id, whose createdate is HubSpot's
-- creation instant (the importer did not map the old one) and nothing earlier in its lineage. A lead's tag id: the
-- deal's own lead_event_id, else its first live contact's (by contact id) that has one.
CREATE TEMP TABLE capi_deals ON COMMIT DROP AS
SELECT a.stable_key, a.deal_id, a.channel, a.is_won, a.won_at, a.amount, d.amount_raw, a.currency,
       d.properties ->> 'deal_currency_code' AS currency_raw, a.epik,
       nullif(btrim(d.ip_address), '') AS ip_address, nullif(btrim(d.user_agent), '') AS user_agent,
       d.ads_consent AS deal_consent,
       CASE WHEN d.legacy_deal_id IS NOT NULL AND a.stable_key = 'hubspot:' || a.deal_id
                 AND abs(extract(epoch FROM d.created_at - d.hubspot_created_at)) <= 1
                 AND a.lead_at >= LEAST(d.created_at, a.won_at)
            THEN NULL ELSE a.lead_at END AS lead_at,
       coalesce(d.lead_event_id, (
           SELECT contact.lead_event_id
           FROM raw.hubspot_deal_contacts AS link
           JOIN raw.hubspot_contacts AS contact ON contact.contact_id = link.contact_id
           WHERE link.deal_id = a.deal_id AND NOT contact.archived AND contact.lead_event_id IS NOT NULL
           ORDER BY contact.contact_id
           LIMIT 1
       )) AS tag
FROM mart.deal_attribution AS a
JOIN raw.hubspot_deals AS d ON d.deal_id = a.deal_id
WHERE a.stable_key IN (SELECT stable_key FROM capi_changed_keys);

-- The changed lineages' first entries into the mapped stages: the earliest hs_v2_date_entered_<stage> of their deals
-- (the current one, the earlier ids of its key, the deals merged into it) and the earliest kept from earlier fills
-- under any alias of the key, so a deal that goes back and re-enters a stage (HubSpot then moves its entry time)
-- never moves it later. An entry at a deal's own creation instant is no entry when the deal carries a legacy id: it
-- is a CRM migration's import, which writes that instant as the entry into the deal's stage of the time.
CREATE TEMP TABLE capi_stage_entries ON COMMIT DROP AS
WITH member AS (  -- (no stage mapped, the default: nothing to read)
    SELECT d.stable_key, ids.deal_id
    FROM capi_deals AS d
    JOIN raw.hubspot_deal_ids AS ids ON ids.stable_key = d.stable_key AND ids.via = 'self'
    WHERE EXISTS (SELECT FROM capi_mapped_stages)
    UNION
    SELECT d.stable_key, merged.deal_id
    FROM capi_deals AS d
    JOIN raw.hubspot_deals AS merged ON merged.merged_into_deal_id = d.deal_id
    WHERE EXISTS (SELECT FROM capi_mapped_stages)
),
entry AS (
    SELECT member.stable_key, mapped.stage, recorded.entered_at
    FROM member
    JOIN raw.hubspot_deals AS deal ON deal.deal_id = member.deal_id
    JOIN capi_mapped_stages AS mapped ON deal.stage_entered_at ? mapped.stage
    CROSS JOIN LATERAL (SELECT (deal.stage_entered_at ->> mapped.stage)::timestamptz AS entered_at) AS recorded
    WHERE NOT (
        deal.legacy_deal_id IS NOT NULL
        AND coalesce(abs(extract(epoch FROM recorded.entered_at - deal.created_at)) <= 1
                     OR abs(extract(epoch FROM recorded.entered_at - deal.hubspot_created_at)) <= 1, false)
    )
    UNION ALL
    SELECT d.stable_key, kept.stage, kept.entered_at
    FROM capi_deals AS d
    JOIN raw.hubspot_deal_ids AS alias ON alias.stable_key = d.stable_key
    JOIN ops.lineage_stage_entries AS kept ON kept.stable_key = alias.alias_id
    WHERE kept.stage IN (SELECT stage FROM capi_mapped_stages)
)
SELECT stable_key, stage, min(entered_at) AS entered_at
FROM entry
GROUP BY stable_key, stage;

INSERT INTO ops.lineage_stage_entries AS kept (stable_key, stage, entered_at)
SELECT stable_key, stage, entered_at FROM capi_stage_entries
ON CONFLICT (stable_key, stage) DO UPDATE SET entered_at = EXCLUDED.entered_at, observed_at = now()
WHERE EXCLUDED.entered_at < kept.entered_at;

CREATE TEMP TABLE capi_events ON COMMIT DROP AS
WITH people AS (
    SELECT dc.deal_id,
           jsonb_agg(
               jsonb_build_object(
                   'contact_id', c.contact_id,
                   'email', c.email_normalized,
                   'phone_e164', c.phone_e164,
                   'phone', coalesce(nullif(btrim(c.phone), ''), nullif(btrim(c.mobilephone), '')),
                   'country', coalesce(c.country_code, c.properties ->> 'country'),
                   'first_name', c.first_name,
                   'last_name', c.last_name,
                   'consent', c.ads_consent
               ) || jsonb_strip_nulls(jsonb_build_object(
                   'city', c.city_normalized, 'state', c.state_code, 'zip', c.zip_normalized,
                   'gender', c.gender_code, 'birth_date', c.birth_date
               )) ORDER BY c.contact_id
           ) AS contacts
    FROM raw.hubspot_deal_contacts AS dc
    JOIN raw.hubspot_contacts AS c ON c.contact_id = dc.contact_id AND NOT c.archived
    WHERE dc.deal_id IN (SELECT deal_id FROM capi_deals)
    GROUP BY dc.deal_id
),
-- A tag id claimed by two lineages (a contact with two deals) is the earliest lead's: Pinterest would take the
-- other lead for a repeat of it.
tag_holders AS (
    SELECT DISTINCT ON (tag) tag, stable_key
    FROM capi_deals
    WHERE tag IS NOT NULL
    ORDER BY tag, lead_at NULLS LAST, stable_key
),
events AS (
    SELECT 'won_' || d.stable_key AS event_id, 'checkout' AS event_kind, d.won_at AS event_at, d.stable_key,
           d.deal_id, d.channel, d.won_at, d.amount, d.amount_raw, d.currency, d.currency_raw, d.epik, d.ip_address,
           d.user_agent, d.deal_consent
    FROM capi_deals AS d
    WHERE d.is_won
    UNION ALL
    SELECT coalesce(holder.tag, 'lead_' || d.stable_key), 'lead', d.lead_at, d.stable_key, d.deal_id, d.channel,
           NULL, NULL, NULL, NULL, NULL, d.epik, d.ip_address, d.user_agent, d.deal_consent
    FROM capi_deals AS d
    LEFT JOIN tag_holders AS holder ON holder.tag = d.tag AND holder.stable_key = d.stable_key
    UNION ALL
    SELECT 'stage_' || entry.stage || '_' || d.stable_key, 'stage:' || entry.stage, entry.entered_at, d.stable_key,
           d.deal_id, d.channel, NULL, NULL, NULL, NULL, NULL, d.epik, d.ip_address, d.user_agent, d.deal_consent
    FROM capi_deals AS d
    JOIN capi_stage_entries AS entry ON entry.stable_key = d.stable_key
)
SELECT e.*, coalesce(p.contacts, '[]'::jsonb) AS contacts
FROM events AS e
LEFT JOIN people AS p ON p.deal_id = e.deal_id;

-- Rows of the changed lineages that are no longer theirs: a checkout of a deal no longer won, a lead whose event id
-- changed, the rows of a merged deal's former key; then a tag id's row that moved to another lineage. (Two
-- statements: either condition alone is an index lookup, the two OR-ed a scan of the outbox.)
DELETE FROM ops.capi_outbox AS o
WHERE o.stable_key IN (SELECT stable_key FROM capi_changed_keys)
  AND NOT EXISTS (
      SELECT FROM capi_events AS e
      WHERE e.event_id = o.event_id AND e.stable_key = o.stable_key AND e.event_kind = o.event_kind
  );

DELETE FROM ops.capi_outbox AS o
WHERE o.event_id IN (SELECT event_id FROM capi_events)
  AND NOT EXISTS (
      SELECT FROM capi_events AS e
      WHERE e.event_id = o.event_id AND e.stable_key = o.stable_key AND e.event_kind = o.event_kind
  );

-- A checkout's inputs hash as before leads existed (an upgrade re-opens nothing); a lead's and a stage event's
-- without the order.
INSERT INTO ops.capi_outbox AS o (
    event_id, event_kind, event_at, stable_key, deal_id, channel, won_at, amount, amount_raw, currency, currency_raw,
    epik, ip_address, user_agent, deal_consent, contacts, inputs_hash, undecided
)
SELECT event_id, event_kind, event_at, stable_key, deal_id, channel, won_at, amount, amount_raw, currency,
       currency_raw, epik, ip_address, user_agent, deal_consent, contacts,
       CASE event_kind
           WHEN 'checkout' THEN md5(jsonb_build_array(channel, won_at, amount::text, amount_raw, currency,
                                                      currency_raw, epik, ip_address, user_agent, deal_consent,
                                                      contacts)::text)
           ELSE md5(jsonb_build_array(event_kind, channel, event_at, epik, ip_address, user_agent, deal_consent,
                                      contacts)::text)
       END,
       NOT EXISTS (SELECT FROM ops.capi_ledger AS l WHERE l.event_id = capi_events.event_id AND l.state = 'sent')
FROM capi_events
ON CONFLICT (event_id) DO UPDATE SET
    event_at = EXCLUDED.event_at, deal_id = EXCLUDED.deal_id, channel = EXCLUDED.channel, won_at = EXCLUDED.won_at,
    amount = EXCLUDED.amount, amount_raw = EXCLUDED.amount_raw, currency = EXCLUDED.currency,
    currency_raw = EXCLUDED.currency_raw, epik = EXCLUDED.epik, ip_address = EXCLUDED.ip_address,
    user_agent = EXCLUDED.user_agent, deal_consent = EXCLUDED.deal_consent, contacts = EXCLUDED.contacts,
    inputs_hash = EXCLUDED.inputs_hash,
    undecided = o.undecided OR (EXCLUDED.undecided AND o.inputs_hash <> EXCLUDED.inputs_hash), updated_at = now()
WHERE (o.inputs_hash, o.deal_id) IS DISTINCT FROM (EXCLUDED.inputs_hash, EXCLUDED.deal_id);

INSERT INTO ops.watermarks AS mark (source, scope, position, completed)
SELECT 'capi.outbox', 'fill',
       jsonb_build_object('since', since, 'next_since', next_since, 'generation', generation, 'stages', stages),
       true
FROM capi_fill_window
ON CONFLICT (source, scope) DO UPDATE SET position = EXCLUDED.position, updated_at = now();

SELECT (SELECT count(*) FROM capi_changed_deals) AS deals_changed,
       (SELECT count(*) FROM ops.capi_outbox WHERE undecided) AS undecided;
