-- The contact roles the Conversions API matches on (issue 22 §2: user_data ct, st, zp, country, ge, db), typed by the
-- extraction the way Pinterest matches them (docs/capi.md, "Matching"): NULL when the role is off or its value
-- cannot be typed (reported in ops.record_issues). Contacts loaded before this migration gain them when re-read
-- (the weekly contact refresh, or a full refresh).
ALTER TABLE raw.hubspot_contacts
    ADD COLUMN city_normalized text,   -- lower case, no spaces or punctuation
    ADD COLUMN state_code text,        -- two letters, lower case
    ADD COLUMN zip_normalized text,    -- a US ZIP code's 5 digits; elsewhere letters and digits, lower case
    ADD COLUMN country_code text,      -- ISO 3166 alpha-2, lower case
    ADD COLUMN gender_code text,       -- f, m or n; only when the role gender is mapped
    ADD COLUMN birth_date date;        -- only when the role date_of_birth is mapped
