-- Every tenant table references accounts(id) ON DELETE CASCADE, so deleting the
-- account row removes everything the account holds in one statement.
CREATE TABLE accounts (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL DEFAULT 'UTC',
    default_country TEXT NOT NULL DEFAULT 'US',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
