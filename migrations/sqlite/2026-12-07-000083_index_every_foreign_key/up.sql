-- Every foreign key is led by an index on its own columns. Deleting a parent
-- row (an account's cascade, a user's removal) looks its children up by these
-- columns, and the export pages an account's rows of the first three tables in
-- id order: without an index each of them read every account's rows. With
-- another account holding 2.5M status changes and 500k reminders, deleting an
-- account of a few rows took 250 ms in those two lookups alone on PostgreSQL,
-- and its export 134 ms there and 5.6 s on SQLite.
CREATE INDEX appointment_status_changes_account_idx ON appointment_status_changes (account_id, id);
CREATE INDEX consent_events_account_idx ON consent_events (account_id, id);
CREATE INDEX reminders_account_idx ON reminders (account_id, id);
CREATE INDEX refresh_tokens_account_idx ON refresh_tokens (account_id);
CREATE INDEX calendar_feeds_account_idx ON calendar_feeds (account_id);
CREATE INDEX devices_user_idx ON devices (user_id);
CREATE INDEX devices_created_by_idx ON devices (created_by);
CREATE INDEX api_keys_created_by_idx ON api_keys (created_by);
CREATE INDEX google_integrations_connected_by_idx ON google_integrations (connected_by);
CREATE INDEX google_oauth_states_user_idx ON google_oauth_states (user_id);

-- The export reads an account's rows a page at a time in id order; an index led
-- by the account alone, or by the account and another column, made each page
-- read every row of the account, or walk the primary key through every
-- account's rows (an account with a tenth of 550k appointments: 23 ms a page,
-- 5,234 rows read for 500). People page through their stages instead (a
-- create writes that table: crates/db/src/export.rs `people_page`).
CREATE INDEX appointments_account_id_idx ON appointments (account_id, id);
DROP INDEX jobs_account_idx;
CREATE INDEX jobs_account_idx ON jobs (account_id, id);
DROP INDEX webhook_deliveries_account_idx;
CREATE INDEX webhook_deliveries_account_idx ON webhook_deliveries (account_id, id);

-- A shift by its person and when it ended: a batch of pings reads its
-- person's shifts that may hold its fixes, those still open or ended after its
-- first fix (`of_user_between`, crates/db/src/shifts.rs), and a user's removal
-- finds the user's shifts. The index led by the account and then the person
-- served neither without the account, and the unique index on open shifts only
-- those: each batch read every account's shifts (19 ms on PostgreSQL beside
-- another account's 300k; 0.04 ms with this index).
CREATE INDEX shifts_user_clock_out_idx ON shifts (user_id, clock_out_at);
