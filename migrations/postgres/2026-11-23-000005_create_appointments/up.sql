-- Reminder rules used when an appointment names none: a JSON list of
-- {"channel": "sms" | "email", "minutes_before": n}.
ALTER TABLE accounts ADD COLUMN default_reminders text NOT NULL DEFAULT '[{"channel":"email","minutes_before":1440},{"channel":"sms","minutes_before":60}]';

CREATE TABLE appointments (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- the customer or prospect; erasing the person erases their appointments
    person_id uuid NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    technician_id uuid REFERENCES users(id) ON DELETE SET NULL,
    title text NOT NULL,
    notes text,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    address_line1 text,
    address_line2 text,
    city text,
    region text,
    postal_code text,
    country text,
    lat double precision,
    lon double precision,
    status text NOT NULL CHECK (status IN ('scheduled', 'confirmed', 'en_route', 'in_progress', 'completed', 'cancelled', 'no_show')),
    version integer NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX appointments_account_starts_at_idx ON appointments (account_id, starts_at, id);
CREATE INDEX appointments_technician_starts_at_idx ON appointments (technician_id, starts_at);
CREATE INDEX appointments_person_id_idx ON appointments (person_id);

-- Every status change, with who made it and when.
CREATE TABLE appointment_status_changes (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    appointment_id uuid NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    from_status text,
    to_status text NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL
);
CREATE INDEX appointment_status_changes_appointment_idx ON appointment_status_changes (appointment_id, id);

-- The reminders an appointment will send, and when; moved with the appointment.
CREATE TABLE reminders (
    id uuid NOT NULL PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    appointment_id uuid NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    channel text NOT NULL CHECK (channel IN ('sms', 'email')),
    minutes_before integer NOT NULL,
    due_at timestamptz NOT NULL,
    status text NOT NULL CHECK (status IN ('scheduled', 'cancelled', 'sent', 'failed', 'suppressed')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX reminders_appointment_idx ON reminders (appointment_id);
CREATE INDEX reminders_status_due_at_idx ON reminders (status, due_at);
