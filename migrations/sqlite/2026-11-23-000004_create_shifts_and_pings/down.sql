DROP TABLE pings;
DROP TABLE shifts;
ALTER TABLE accounts DROP COLUMN ping_retention_days;
ALTER TABLE accounts DROP COLUMN max_shift_hours;
ALTER TABLE accounts DROP COLUMN ping_accuracy_limit_m;
