-- The trackers of technicians' phones (Traccar Client, Overland, OwnTracks,
-- GPSLogger): one row per issued device token, kept as a SHA-256 hash like API
-- keys. The counters say what the device sent without saying where: a
-- position outside a shift is never stored, only counted.
CREATE TABLE devices (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- The person whose positions it sends; their devices go with them.
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label text NOT NULL,
    -- The first characters of the token, to tell devices apart in a list.
    prefix text NOT NULL,
    token_hash bytea NOT NULL,
    created_by uuid REFERENCES users(id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz,
    stored bigint NOT NULL DEFAULT 0,
    duplicates bigint NOT NULL DEFAULT 0,
    outside_shift bigint NOT NULL DEFAULT 0,
    low_accuracy bigint NOT NULL DEFAULT 0,
    unparseable bigint NOT NULL DEFAULT 0,
    revoked_at timestamptz
);
CREATE UNIQUE INDEX devices_token_hash_key ON devices (token_hash);
CREATE INDEX devices_account_user_idx ON devices (account_id, user_id, id);
