ALTER TABLE accounts DROP COLUMN arrival_radius_m;
ALTER TABLE appointments DROP COLUMN departed_at;
ALTER TABLE appointments DROP COLUMN arrived_at;
