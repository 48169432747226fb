-- When the technician's GPS first came within the account's radius of the
-- appointment's place that day, and when it first left again.
ALTER TABLE appointments ADD COLUMN arrived_at TEXT;
ALTER TABLE appointments ADD COLUMN departed_at TEXT;
ALTER TABLE accounts ADD COLUMN arrival_radius_m REAL NOT NULL DEFAULT 150;
