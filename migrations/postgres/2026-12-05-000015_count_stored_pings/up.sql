-- Pings stored per person and day (from midnight UTC, by arrival), for the per-account daily
-- quota: a running count rather than a count of the pings table on every batch.
CREATE TABLE ping_counts (
    user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    day_start timestamptz NOT NULL,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    stored bigint NOT NULL,
    PRIMARY KEY (user_id, day_start)
);
CREATE INDEX ping_counts_account_day_start_idx ON ping_counts (account_id, day_start);
