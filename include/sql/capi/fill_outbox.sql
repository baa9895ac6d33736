-- The Conversions API outbox from the reconciled deals: one row per won deal (every channel: the sender records
-- why a deal of a channel it does not send is skipped), keyed by 'won_' || stable key. Re-running it changes only
-- rows whose inputs changed; a deal no longer won leaves the outbox (its ledger row stays, as the record of what
-- was decided or sent). Contacts are the deal's current associations, live ones only, in contact id order.
WITH won AS (
    SELECT a.stable_key, a.deal_id, a.channel, a.won_at, a.amount, a.currency, a.epik,
           nullif(btrim(d.ip_address), '') AS ip_address, nullif(btrim(d.user_agent), '') AS user_agent,
           d.ads_consent AS deal_consent
    FROM mart.deal_attribution AS a
    JOIN raw.hubspot_deals AS d ON d.deal_id = a.deal_id
    WHERE a.is_won AND a.won_at IS NOT NULL
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
    SELECT 'won_' || w.stable_key AS event_id, w.stable_key, w.deal_id, w.channel, w.won_at, w.amount, w.currency,
           w.epik, w.ip_address, w.user_agent, w.deal_consent, coalesce(p.contacts, '[]'::jsonb) AS contacts
    FROM won AS w
    LEFT JOIN people AS p ON p.deal_id = w.deal_id
)
INSERT INTO ops.capi_outbox AS o (
    event_id, stable_key, deal_id, channel, won_at, amount, currency, epik, ip_address, user_agent, deal_consent,
    contacts, inputs_hash
)
SELECT event_id, stable_key, deal_id, channel, won_at, amount, currency, epik, ip_address, user_agent, deal_consent,
       contacts,
       md5(jsonb_build_array(channel, won_at, amount::text, currency, epik, ip_address, user_agent, deal_consent,
                             contacts)::text)
FROM outbox
ON CONFLICT (event_id) DO UPDATE SET
    deal_id = EXCLUDED.deal_id, channel = EXCLUDED.channel, won_at = EXCLUDED.won_at, amount = EXCLUDED.amount,
    currency = EXCLUDED.currency, epik = EXCLUDED.epik, ip_address = EXCLUDED.ip_address,
    user_agent = EXCLUDED.user_agent, deal_consent = EXCLUDED.deal_consent, contacts = EXCLUDED.contacts,
    inputs_hash = EXCLUDED.inputs_hash, updated_at = now()
WHERE (o.inputs_hash, o.deal_id) IS DISTINCT FROM (EXCLUDED.inputs_hash, EXCLUDED.deal_id);

DELETE FROM ops.capi_outbox AS o
WHERE NOT EXISTS (
    SELECT 1 FROM mart.deal_attribution AS a
    WHERE a.stable_key = o.stable_key AND a.is_won AND a.won_at IS NOT NULL
);
