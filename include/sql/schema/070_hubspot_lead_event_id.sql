-- The tag's event id of a lead (issue 22): the role lead_event_id of hubspot_default's extra, a deal or a contact
-- property holding the event id the site's Pinterest tag sent with the lead; the Conversions API's lead reuses it
-- (docs/hubspot.md, docs/capi.md).
ALTER TABLE raw.hubspot_deals ADD COLUMN lead_event_id text;
ALTER TABLE raw.hubspot_contacts ADD COLUMN lead_event_id text;
-- Few deals or contacts carry one: the fill looks up who else claims a tag id through these.
CREATE INDEX hubspot_deals_lead_event_id ON raw.hubspot_deals (lead_event_id) WHERE lead_event_id IS NOT NULL;
CREATE INDEX hubspot_contacts_lead_event_id ON raw.hubspot_contacts (lead_event_id) WHERE lead_event_id IS NOT NULL;

