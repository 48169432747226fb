-- What changed in an account, in order: the type, who made it and the ids and
-- field names involved; never the content (no names, positions, bodies).
CREATE TABLE events (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    event_type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    -- user, api_key, system or contact (a reply or an unsubscribe link)
    actor text NOT NULL,
    -- JSON object
    data text NOT NULL,
    -- The customer or prospect the event concerns: erasing them erases it
    -- (except the deletion event itself, which names no one here).
    person_id uuid REFERENCES people(id) ON DELETE CASCADE
);
CREATE INDEX events_account_idx ON events (account_id, id);
CREATE INDEX events_occurred_idx ON events (occurred_at);
CREATE INDEX events_person_idx ON events (person_id);

-- Where an account's events are sent, signed with its secret.
CREATE TABLE webhook_endpoints (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url text NOT NULL,
    description text,
    -- JSON array of event types; NULL for every type
    event_types text,
    -- thin or full
    payload text NOT NULL,
    enabled boolean NOT NULL,
    secret_sealed text NOT NULL,
    -- After a rotation, the old secret signs beside the new one until then.
    previous_secret_sealed text,
    previous_secret_until timestamptz,
    failing_since timestamptz,
    disabled_reason text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    version integer NOT NULL
);
CREATE INDEX webhook_endpoints_account_idx ON webhook_endpoints (account_id, id);

-- One row per attempt to deliver an event to an endpoint; never the body.
CREATE TABLE webhook_deliveries (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    attempt integer NOT NULL,
    status_code integer,
    duration_ms integer NOT NULL,
    error text,
    attempted_at timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_account_idx ON webhook_deliveries (account_id);
