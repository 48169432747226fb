DROP TABLE deletion_receipts;
DROP TABLE audit_events;
