-- Reminder rules used when an appointment names none: a JSON list of
-- {"channel": "sms" | "email", "minutes_before": n}.
ALTER TABLE accounts ADD COLUMN default_reminders TEXT NOT NULL DEFAULT '[{"channel":"email","minutes_before":1440},{"channel":"sms","minutes_before":60}]';

CREATE TABLE appointments (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- the customer or prospect; erasing the person erases their appointments
    person_id BLOB NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    technician_id BLOB REFERENCES users(id) ON DELETE SET NULL,
    title TEXT NOT NULL,
    notes TEXT,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    address_line1 TEXT,
    address_line2 TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    lat REAL,
    lon REAL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'confirmed', 'en_route', 'in_progress', 'completed', 'cancelled', 'no_show')),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX appointments_account_starts_at_idx ON appointments (account_id, starts_at, id);
CREATE INDEX appointments_technician_starts_at_idx ON appointments (technician_id, starts_at);
CREATE INDEX appointments_person_id_idx ON appointments (person_id);

-- Every status change, with who made it and when.
CREATE TABLE appointment_status_changes (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    appointment_id BLOB NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    from_status TEXT,
    to_status TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
) STRICT;
CREATE INDEX appointment_status_changes_appointment_idx ON appointment_status_changes (appointment_id, id);

-- The reminders an appointment will send, and when; moved with the appointment.
CREATE TABLE reminders (
    id BLOB NOT NULL PRIMARY KEY CHECK (length(id) = 16),
    account_id BLOB NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    appointment_id BLOB NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    channel TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    minutes_before INTEGER NOT NULL,
    due_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'cancelled', 'sent', 'failed', 'suppressed')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX reminders_appointment_idx ON reminders (appointment_id);
CREATE INDEX reminders_status_due_at_idx ON reminders (status, due_at);
