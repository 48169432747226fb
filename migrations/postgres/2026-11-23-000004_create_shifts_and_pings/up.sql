-- Per-account limits of the time clock.
ALTER TABLE accounts ADD COLUMN ping_accuracy_limit_m double precision NOT NULL DEFAULT 100;
ALTER TABLE accounts ADD COLUMN max_shift_hours integer NOT NULL DEFAULT 16;
ALTER TABLE accounts ADD COLUMN ping_retention_days integer NOT NULL DEFAULT 90;

-- Working time. Location is collected only inside a shift.
CREATE TABLE shifts (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    clock_in_at timestamptz NOT NULL,
    clock_out_at timestamptz,
    clock_in_lat double precision,
    clock_in_lon double precision,
    clock_out_lat double precision,
    clock_out_lon double precision,
    -- 'self', 'user:<id>' (closed by an admin) or 'auto' (past the account's maximum)
    closed_by text,
    -- kept when pings are purged
    distance_m double precision,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- At most one open shift per person, whatever races: the second clock-in fails here.
CREATE UNIQUE INDEX shifts_one_open_per_user_key ON shifts (user_id) WHERE clock_out_at IS NULL;
CREATE INDEX shifts_account_user_clock_in_idx ON shifts (account_id, user_id, clock_in_at);
CREATE INDEX shifts_account_clock_in_idx ON shifts (account_id, clock_in_at);

-- GPS positions, only ever inside a shift of their user. The id is made by the
-- device, so a resent ping is recognised and stored once.
CREATE TABLE pings (
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    id uuid NOT NULL,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    shift_id uuid NOT NULL REFERENCES shifts(id) ON DELETE CASCADE,
    recorded_at timestamptz NOT NULL,
    lat double precision NOT NULL,
    lon double precision NOT NULL,
    accuracy_m double precision,
    speed_mps double precision,
    heading_deg double precision,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX pings_shift_recorded_at_idx ON pings (shift_id, recorded_at);
CREATE INDEX pings_account_recorded_at_idx ON pings (account_id, recorded_at);
