-- Privacy-relevant actions: who did what to which record, and when; never the
-- record's content.
CREATE TABLE audit_events (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- user:<id>, api_key:<id> or system
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_id BLOB,
    -- non-personal detail, e.g. a role change "technician -> admin"
    detail TEXT,
    at TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_account_idx ON audit_events (account_id, id);
CREATE INDEX audit_events_action_idx ON audit_events (account_id, action, at);

-- What a deleted account held, in figures only: no name, no id of the account.
CREATE TABLE deletion_receipts (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    deleted_at TEXT NOT NULL,
    -- JSON object: kind of record -> rows removed
    counts TEXT NOT NULL
) STRICT;
