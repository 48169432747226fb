-- Messaging settings: quiet hours (local wall-clock "HH:MM") during which SMS
-- wait, per-account template overrides (JSON object by kind), the postal
-- address printed in email footers, and how long sent bodies are kept.
ALTER TABLE accounts ADD COLUMN quiet_hours_start text NOT NULL DEFAULT '21:00';
ALTER TABLE accounts ADD COLUMN quiet_hours_end text NOT NULL DEFAULT '08:00';
ALTER TABLE accounts ADD COLUMN message_templates text NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD COLUMN postal_address text;
ALTER TABLE accounts ADD COLUMN message_body_retention_days integer NOT NULL DEFAULT 90;

-- The outbox: every piece of background work. A worker claims a due job by
-- setting a lease; a job whose lease ran out (its process died) is due again.
CREATE TABLE jobs (
    id uuid NOT NULL PRIMARY KEY,
    -- null only for clean-up work that outlives its account
    account_id uuid REFERENCES accounts(id) ON DELETE CASCADE,
    kind text NOT NULL,
    -- the row the job works on (a message, a reminder)
    subject_id uuid,
    status text NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    run_at timestamptz NOT NULL,
    attempts integer NOT NULL,
    max_attempts integer NOT NULL,
    lease_id uuid,
    lease_expires_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX jobs_queued_run_at_idx ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_subject_idx ON jobs (subject_id);
CREATE INDEX jobs_account_idx ON jobs (account_id);

-- Every SMS and email: what was asked for, and what became of it.
CREATE TABLE messages (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- erasing the person erases their messages
    person_id uuid NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    appointment_id uuid REFERENCES appointments(id) ON DELETE CASCADE,
    reminder_id uuid REFERENCES reminders(id) ON DELETE SET NULL,
    kind text NOT NULL CHECK (kind IN ('manual', 'reminder', 'confirmation', 'on_my_way')),
    channel text NOT NULL CHECK (channel IN ('sms', 'email')),
    -- the phone number or address it went to; set when sending starts
    recipient text,
    subject text,
    -- cleared once the account's retention has passed
    body text,
    status text NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'suppressed')),
    status_reason text,
    error_code text,
    provider_message_id text,
    attempts integer NOT NULL,
    send_after timestamptz,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    sent_at timestamptz
);
CREATE INDEX messages_account_id_idx ON messages (account_id, id);
CREATE INDEX messages_person_idx ON messages (person_id);
CREATE INDEX messages_appointment_idx ON messages (appointment_id);
CREATE INDEX messages_reminder_idx ON messages (reminder_id);
CREATE UNIQUE INDEX messages_provider_message_id_idx ON messages (provider_message_id);
CREATE INDEX messages_sent_at_idx ON messages (sent_at) WHERE body IS NOT NULL;
