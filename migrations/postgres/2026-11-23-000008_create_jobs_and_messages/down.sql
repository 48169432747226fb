DROP TABLE messages;
DROP TABLE jobs;
ALTER TABLE accounts DROP COLUMN message_body_retention_days;
ALTER TABLE accounts DROP COLUMN postal_address;
ALTER TABLE accounts DROP COLUMN message_templates;
ALTER TABLE accounts DROP COLUMN quiet_hours_end;
ALTER TABLE accounts DROP COLUMN quiet_hours_start;
