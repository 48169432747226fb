-- A secret feed URL per person for Apple or Outlook calendars; the token is
-- stored only as a SHA-256 hash and replaced when the person rotates it.
CREATE TABLE calendar_feeds (
    user_id BLOB NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash BLOB NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX calendar_feeds_token_hash_key ON calendar_feeds (token_hash);
