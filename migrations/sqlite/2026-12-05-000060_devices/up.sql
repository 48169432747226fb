-- The trackers of technicians' phones (Traccar Client, Overland, OwnTracks,
-- GPSLogger): one row per issued device token, kept as a SHA-256 hash like API
-- keys. The counters say what the device sent without saying where: a
-- position outside a shift is never stored, only counted.
CREATE TABLE devices (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- The person whose positions it sends; their devices go with them.
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    -- The first characters of the token, to tell devices apart in a list.
    prefix TEXT NOT NULL,
    token_hash BLOB NOT NULL,
    created_by BLOB REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT,
    stored INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    outside_shift INTEGER NOT NULL DEFAULT 0,
    low_accuracy INTEGER NOT NULL DEFAULT 0,
    unparseable INTEGER NOT NULL DEFAULT 0,
    revoked_at TEXT
) STRICT;
CREATE UNIQUE INDEX devices_token_hash_key ON devices (token_hash);
CREATE INDEX devices_account_user_idx ON devices (account_id, user_id, id);
