DROP TABLE reminders;
DROP TABLE appointment_status_changes;
DROP TABLE appointments;
ALTER TABLE accounts DROP COLUMN default_reminders;
