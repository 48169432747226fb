-- Trigram indexes make `q` (a substring search) fast at hundreds of thousands of rows.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Customers and prospects: one table, two stages, so converting keeps the id and
-- everything attached to it.
CREATE TABLE people (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    stage text NOT NULL CHECK (stage IN ('prospect', 'customer')),
    name text NOT NULL,
    -- lower-cased name: the sort key for `sort=name`
    sort_name text NOT NULL,
    company text,
    email text,
    -- E.164
    phone text,
    address_line1 text,
    address_line2 text,
    city text,
    region text,
    postal_code text,
    country text,
    lat double precision,
    lon double precision,
    notes text,
    -- lower-cased name, company, email and phone, searched by `q`
    search_text text NOT NULL,
    -- current consent per channel: NULL (never asked), 'opted_in', 'opted_out'
    sms_consent text CHECK (sms_consent IN ('opted_in', 'opted_out')),
    email_consent text CHECK (email_consent IN ('opted_in', 'opted_out')),
    -- raised on every change; the ETag
    version integer NOT NULL,
    converted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX people_account_stage_id_idx ON people (account_id, stage, id);
CREATE INDEX people_account_stage_name_idx ON people (account_id, stage, sort_name, id);
CREATE INDEX people_account_stage_updated_idx ON people (account_id, stage, updated_at, id);
CREATE INDEX people_search_text_trgm_idx ON people USING gin (search_text gin_trgm_ops);

CREATE TABLE person_tags (
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    person_id uuid NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    tag text NOT NULL,
    PRIMARY KEY (person_id, tag)
);
CREATE INDEX person_tags_account_tag_idx ON person_tags (account_id, tag);

-- Append-only: every consent given, withdrawn or reset, with its source.
CREATE TABLE consent_events (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    person_id uuid NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    channel text NOT NULL CHECK (channel IN ('sms', 'email')),
    status text NOT NULL CHECK (status IN ('opted_in', 'opted_out', 'reset')),
    source text NOT NULL,
    -- who recorded it: 'user:<id>', 'api_key:<id>' or 'system'
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX consent_events_person_idx ON consent_events (person_id, id);

-- Responses of POSTs made with an Idempotency-Key, replayed for 24 hours.
CREATE TABLE idempotency_keys (
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    idempotency_key text NOT NULL,
    request_hash bytea NOT NULL,
    response_status integer NOT NULL,
    response_body text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (account_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
