-- The key that signs links sent to people (unsubscribe) when the operator sets
-- none: made once by the first process, shared by every process, and kept
-- across restarts, so a link in an email keeps working. Not per account.
CREATE TABLE link_keys (
    id text NOT NULL PRIMARY KEY,
    key bytea NOT NULL,
    created_at timestamptz NOT NULL
);
