-- Per-account limits of the time clock.
ALTER TABLE accounts ADD COLUMN ping_accuracy_limit_m REAL NOT NULL DEFAULT 100;
ALTER TABLE accounts ADD COLUMN max_shift_hours INTEGER NOT NULL DEFAULT 16;
ALTER TABLE accounts ADD COLUMN ping_retention_days INTEGER NOT NULL DEFAULT 90;

-- Working time. Location is collected only inside a shift.
CREATE TABLE shifts (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    clock_in_at TEXT NOT NULL,
    clock_out_at TEXT,
    clock_in_lat REAL,
    clock_in_lon REAL,
    clock_out_lat REAL,
    clock_out_lon REAL,
    -- 'self', 'user:<id>' (closed by an admin) or 'auto' (past the account's maximum)
    closed_by TEXT,
    -- kept when pings are purged
    distance_m REAL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
-- At most one open shift per person, whatever races: the second clock-in fails here.
CREATE UNIQUE INDEX shifts_one_open_per_user_key ON shifts (user_id) WHERE clock_out_at IS NULL;
CREATE INDEX shifts_account_user_clock_in_idx ON shifts (account_id, user_id, clock_in_at);
CREATE INDEX shifts_account_clock_in_idx ON shifts (account_id, clock_in_at);

-- GPS positions, only ever inside a shift of their user. The id is made by the
-- device, so a resent ping is recognised and stored once.
CREATE TABLE pings (
    user_id BLOB NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id BLOB NOT NULL CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    shift_id BLOB NOT NULL REFERENCES shifts(id) ON DELETE CASCADE,
    recorded_at TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    accuracy_m REAL,
    speed_mps REAL,
    heading_deg REAL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (user_id, id)
) STRICT;
CREATE INDEX pings_shift_recorded_at_idx ON pings (shift_id, recorded_at);
CREATE INDEX pings_account_recorded_at_idx ON pings (account_id, recorded_at);
