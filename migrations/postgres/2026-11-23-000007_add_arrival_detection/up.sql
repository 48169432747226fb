-- When the technician's GPS first came within the account's radius of the
-- appointment's place that day, and when it first left again.
ALTER TABLE appointments ADD COLUMN arrived_at timestamptz;
ALTER TABLE appointments ADD COLUMN departed_at timestamptz;
ALTER TABLE accounts ADD COLUMN arrival_radius_m double precision NOT NULL DEFAULT 150;
