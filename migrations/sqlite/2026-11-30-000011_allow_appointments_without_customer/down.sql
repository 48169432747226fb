-- Appointments without a customer cannot stay when the column is NOT NULL again.
-- The rebuild follows SQLite's documented procedure for changes ALTER TABLE
-- cannot make: foreign keys off, copy, swap, check, foreign keys on.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE appointments_rebuilt (
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
    updated_at TEXT NOT NULL,
    arrived_at TEXT,
    departed_at TEXT
) STRICT;
INSERT INTO appointments_rebuilt
    SELECT id, account_id, person_id, technician_id, title, notes, starts_at, ends_at,
           address_line1, address_line2, city, region, postal_code, country, lat, lon,
           status, version, created_at, updated_at, arrived_at, departed_at
    FROM appointments WHERE person_id IS NOT NULL;
DROP TABLE appointments;
ALTER TABLE appointments_rebuilt RENAME TO appointments;
CREATE INDEX appointments_account_starts_at_idx ON appointments (account_id, starts_at, id);
CREATE INDEX appointments_technician_starts_at_idx ON appointments (technician_id, starts_at);
CREATE INDEX appointments_person_id_idx ON appointments (person_id);
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
