-- When the deleted rows were gone from the database's files too (NULL while a
-- reader that started before the deletion keeps them); receipts from before
-- were scrubbed before they were answered.
ALTER TABLE deletion_receipts ADD COLUMN scrubbed_at TEXT;
UPDATE deletion_receipts SET scrubbed_at = deleted_at;
