-- The Google grant of an account, one per account. Tokens are sealed with
-- AES-256-GCM by the service (`v1:<key id>:<data>`) and never stored in clear.
CREATE TABLE google_integrations (
    account_id uuid NOT NULL PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    connected_by uuid REFERENCES users(id) ON DELETE SET NULL,
    email TEXT,
    scopes TEXT NOT NULL,
    calendar_id TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    access_token TEXT,
    access_token_expires_at timestamptz,
    needs_reconnect boolean NOT NULL DEFAULT false,
    last_error TEXT,
    sync_token TEXT,
    last_synced_at timestamptz,
    channel_id TEXT,
    channel_resource_id TEXT,
    channel_token_hash bytea,
    channel_expires_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX google_integrations_channel_id_key ON google_integrations (channel_id);

-- A consent screen in progress: the state is stored as a hash, single use and
-- short-lived, bound to the person who started it; the PKCE verifier is sealed.
CREATE TABLE google_oauth_states (
    state_hash bytea NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    pkce_verifier TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX google_oauth_states_account_id_idx ON google_oauth_states (account_id);

-- Which Google event an appointment is; `origin` says who made it first, so an
-- account deletion removes only the events this service put into Google.
CREATE TABLE google_events (
    appointment_id uuid NOT NULL PRIMARY KEY REFERENCES appointments(id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('exported', 'imported')),
    etag TEXT,
    google_updated_at timestamptz
);
CREATE UNIQUE INDEX google_events_account_event_key ON google_events (account_id, event_id);

-- Work that outlives the account it was for (revoking a grant after the account
-- is deleted) carries what it needs, sealed, since no row is left to read.
ALTER TABLE jobs ADD COLUMN payload TEXT;
