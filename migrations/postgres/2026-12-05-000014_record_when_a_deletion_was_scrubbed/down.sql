ALTER TABLE deletion_receipts DROP COLUMN scrubbed_at;
