DELETE FROM appointments WHERE person_id IS NULL;
ALTER TABLE appointments ALTER COLUMN person_id SET NOT NULL;
