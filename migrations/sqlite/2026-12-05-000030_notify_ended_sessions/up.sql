-- Nothing to do: SQLite has no notifications, and on SQLite every request
-- checks afresh whether its session was ended. Kept so both backends have the
-- same migrations.
SELECT 1;
