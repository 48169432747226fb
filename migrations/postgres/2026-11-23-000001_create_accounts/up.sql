-- Every tenant table references accounts(id) ON DELETE CASCADE, so deleting the
-- account row removes everything the account holds in one statement.
CREATE TABLE accounts (
    id uuid NOT NULL PRIMARY KEY,
    name text NOT NULL,
    time_zone text NOT NULL DEFAULT 'UTC',
    default_country text NOT NULL DEFAULT 'US',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
