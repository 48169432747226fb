ALTER TABLE shifts DROP COLUMN counted_until_lon;
ALTER TABLE shifts DROP COLUMN counted_until_lat;
ALTER TABLE shifts DROP COLUMN counted_until_id;
ALTER TABLE shifts DROP COLUMN counted_until_at;
ALTER TABLE shifts DROP COLUMN counted_m;
ALTER TABLE shifts DROP COLUMN uncounted_from;
ALTER TABLE shifts DROP COLUMN trail_version;
