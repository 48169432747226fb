-- Nothing to do: SQLite has no notifications, and on SQLite every request reads
-- what its access token is checked against afresh. Kept so both backends have
-- the same migrations.
SELECT 1;
