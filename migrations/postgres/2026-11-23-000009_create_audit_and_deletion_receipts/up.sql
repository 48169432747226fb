-- Privacy-relevant actions: who did what to which record, and when; never the
-- record's content.
CREATE TABLE audit_events (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- user:<id>, api_key:<id> or system
    actor text NOT NULL,
    action text NOT NULL,
    subject_id uuid,
    -- non-personal detail, e.g. a role change "technician -> admin"
    detail text,
    at timestamptz NOT NULL
);
CREATE INDEX audit_events_account_idx ON audit_events (account_id, id);
CREATE INDEX audit_events_action_idx ON audit_events (account_id, action, at);

-- What a deleted account held, in figures only: no name, no id of the account.
CREATE TABLE deletion_receipts (
    id uuid NOT NULL PRIMARY KEY,
    deleted_at timestamptz NOT NULL,
    -- JSON object: kind of record -> rows removed
    counts text NOT NULL
);
