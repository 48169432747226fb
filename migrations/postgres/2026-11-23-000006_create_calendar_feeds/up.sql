-- A secret feed URL per person for Apple or Outlook calendars; the token is
-- stored only as a SHA-256 hash and replaced when the person rotates it.
CREATE TABLE calendar_feeds (
    user_id uuid NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash bytea NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX calendar_feeds_token_hash_key ON calendar_feeds (token_hash);
