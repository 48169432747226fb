-- Customers and prospects: one table, two stages, so converting keeps the id and
-- everything attached to it.
CREATE TABLE people (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    stage TEXT NOT NULL CHECK (stage IN ('prospect', 'customer')),
    name TEXT NOT NULL,
    -- lower-cased name: the sort key for `sort=name`
    sort_name TEXT NOT NULL,
    company TEXT,
    email TEXT,
    -- E.164
    phone TEXT,
    address_line1 TEXT,
    address_line2 TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    lat REAL,
    lon REAL,
    notes TEXT,
    -- lower-cased name, company, email and phone, searched by `q`
    search_text TEXT NOT NULL,
    -- current consent per channel: NULL (never asked), 'opted_in', 'opted_out'
    sms_consent TEXT CHECK (sms_consent IN ('opted_in', 'opted_out')),
    email_consent TEXT CHECK (email_consent IN ('opted_in', 'opted_out')),
    -- raised on every change; the ETag
    version INTEGER NOT NULL,
    converted_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX people_account_stage_id_idx ON people (account_id, stage, id);
CREATE INDEX people_account_stage_name_idx ON people (account_id, stage, sort_name, id);
CREATE INDEX people_account_stage_updated_idx ON people (account_id, stage, updated_at, id);

CREATE TABLE person_tags (
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    person_id BLOB NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (person_id, tag)
) STRICT;
CREATE INDEX person_tags_account_tag_idx ON person_tags (account_id, tag);

-- Append-only: every consent given, withdrawn or reset, with its source.
CREATE TABLE consent_events (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    person_id BLOB NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    status TEXT NOT NULL CHECK (status IN ('opted_in', 'opted_out', 'reset')),
    source TEXT NOT NULL,
    -- who recorded it: 'user:<id>', 'api_key:<id>' or 'system'
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
) STRICT;
CREATE INDEX consent_events_person_idx ON consent_events (person_id, id);

-- Responses of POSTs made with an Idempotency-Key, replayed for 24 hours.
CREATE TABLE idempotency_keys (
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    request_hash BLOB NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (account_id, idempotency_key)
) STRICT;
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
