-- What changed in an account, in order: the type, who made it and the ids and
-- field names involved; never the content (no names, positions, bodies).
CREATE TABLE events (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    -- user, api_key, system or contact (a reply or an unsubscribe link)
    actor TEXT NOT NULL,
    -- JSON object
    data TEXT NOT NULL,
    -- The customer or prospect the event concerns: erasing them erases it
    -- (except the deletion event itself, which names no one here).
    person_id BLOB REFERENCES people(id) ON DELETE CASCADE
) STRICT;
CREATE INDEX events_account_idx ON events (account_id, id);
CREATE INDEX events_occurred_idx ON events (occurred_at);
CREATE INDEX events_person_idx ON events (person_id);

-- Where an account's events are sent, signed with its secret.
CREATE TABLE webhook_endpoints (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT,
    -- JSON array of event types; NULL for every type
    event_types TEXT,
    -- thin or full
    payload TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    secret_sealed TEXT NOT NULL,
    -- After a rotation, the old secret signs beside the new one until then.
    previous_secret_sealed TEXT,
    previous_secret_until TEXT,
    failing_since TEXT,
    disabled_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    version INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_account_idx ON webhook_endpoints (account_id, id);

-- One row per attempt to deliver an event to an endpoint; never the body.
CREATE TABLE webhook_deliveries (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    endpoint_id BLOB NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id BLOB NOT NULL,
    event_type TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL,
    error TEXT,
    attempted_at TEXT NOT NULL
) STRICT;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_account_idx ON webhook_deliveries (account_id);
