-- People who sign in. Email is kept lower-cased and unique across the service,
-- so one address identifies one login.
CREATE TABLE users (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    -- NULL until the person sets a password: no login is possible before.
    password_hash TEXT,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'dispatcher', 'technician')),
    -- Raised to end every access token of the user at once (password change).
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_account_id_idx ON users (account_id, id);

-- Opaque refresh tokens, stored as SHA-256 hashes. One login starts a family;
-- each refresh spends a token and adds the next. A spent token shown again means
-- it was stolen: the whole family is revoked.
CREATE TABLE refresh_tokens (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id BLOB NOT NULL CHECK (length(family_id) = 16),
    token_hash BLOB NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    spent_at TEXT,
    revoked_at TEXT
) STRICT;
CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash);
CREATE INDEX refresh_tokens_family_id_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

-- Keys for integrators; the secret is shown once and stored as a SHA-256 hash.
CREATE TABLE api_keys (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    prefix TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_by BLOB REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT
) STRICT;
CREATE UNIQUE INDEX api_keys_secret_hash_key ON api_keys (secret_hash);
CREATE INDEX api_keys_account_id_idx ON api_keys (account_id, id);

-- Failed logins per keyed hash of an email or client address, per fixed window.
-- Holds no account data and no readable personal data; rows expire with their window.
CREATE TABLE login_failures (
    key_hash BLOB NOT NULL,
    window_start TEXT NOT NULL,
    failures INTEGER NOT NULL,
    PRIMARY KEY (key_hash, window_start)
) STRICT;
CREATE INDEX login_failures_window_start_idx ON login_failures (window_start);
