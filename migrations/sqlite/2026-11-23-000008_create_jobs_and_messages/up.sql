-- Messaging settings: quiet hours (local wall-clock "HH:MM") during which SMS
-- wait, per-account template overrides (JSON object by kind), the postal
-- address printed in email footers, and how long sent bodies are kept.
ALTER TABLE accounts ADD COLUMN quiet_hours_start TEXT NOT NULL DEFAULT '21:00';
ALTER TABLE accounts ADD COLUMN quiet_hours_end TEXT NOT NULL DEFAULT '08:00';
ALTER TABLE accounts ADD COLUMN message_templates TEXT NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD COLUMN postal_address TEXT;
ALTER TABLE accounts ADD COLUMN message_body_retention_days INTEGER NOT NULL DEFAULT 90;

-- The outbox: every piece of background work. A worker claims a due job by
-- setting a lease; a job whose lease ran out (its process died) is due again.
CREATE TABLE jobs (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    -- null only for clean-up work that outlives its account
    account_id BLOB REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    -- the row the job works on (a message, a reminder)
    subject_id BLOB,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    run_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    lease_id BLOB,
    lease_expires_at TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX jobs_queued_run_at_idx ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_subject_idx ON jobs (subject_id);
CREATE INDEX jobs_account_idx ON jobs (account_id);

-- Every SMS and email: what was asked for, and what became of it.
CREATE TABLE messages (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- erasing the person erases their messages
    person_id BLOB NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    appointment_id BLOB REFERENCES appointments(id) ON DELETE CASCADE,
    reminder_id BLOB REFERENCES reminders(id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('manual', 'reminder', 'confirmation', 'on_my_way')),
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    -- the phone number or address it went to; set when sending starts
    recipient TEXT,
    subject TEXT,
    -- cleared once the account's retention has passed
    body TEXT,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'suppressed')),
    status_reason TEXT,
    error_code TEXT,
    provider_message_id TEXT,
    attempts INTEGER NOT NULL,
    send_after TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT
) STRICT;
CREATE INDEX messages_account_id_idx ON messages (account_id, id);
CREATE INDEX messages_person_idx ON messages (person_id);
CREATE INDEX messages_appointment_idx ON messages (appointment_id);
CREATE INDEX messages_reminder_idx ON messages (reminder_id);
CREATE UNIQUE INDEX messages_provider_message_id_idx ON messages (provider_message_id);
CREATE INDEX messages_sent_at_idx ON messages (sent_at) WHERE body IS NOT NULL;
