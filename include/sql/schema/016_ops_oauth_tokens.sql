-- The current OAuth tokens of an API connection, where every worker process reads them: Pinterest rotates the
-- refresh token on every refresh and the old one stops working, so a rotated pair kept in one process' memory is
-- lost with it. Tokens are Fernet-encrypted by the hook (key: PIN2DEAL_TOKEN_KEY or Airflow's [core] fernet_key);
-- this table never holds a token in clear. Refreshes are serialised per connection (pg_advisory_xact_lock).
CREATE TABLE ops.oauth_tokens (
    conn_id              text        PRIMARY KEY,  -- the Airflow connection id, e.g. 'pinterest_ads_default'
    access_token         bytea       NOT NULL,     -- Fernet token of the access token
    refresh_token        bytea,                    -- Fernet token of the refresh token (NULL: none issued)
    -- sha256 of the connection's API address and configured refresh token when this row was written: when the
    -- connection is given a new refresh token (the app was authorised again) or another server, the row is stale
    -- and the connection's tokens win.
    configured_digest    text        NOT NULL,
    expires_at           timestamptz,              -- of the access token, as the token endpoint said
    refresh_expires_at   timestamptz,              -- of the refresh token
    refreshed_at         timestamptz NOT NULL DEFAULT now(),
    refreshed_by_run_id  text
);
