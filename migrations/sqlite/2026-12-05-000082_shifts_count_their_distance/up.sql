-- An open shift's distance, counted on from what the last read counted instead
-- of from every position on every read (a shift can hold a million).
--
-- counted_m: metres along the trail from its first position up to and
--   including the position keyed (counted_until_at, counted_until_id), in
--   (recorded_at, id) order; counted_until_lat/lon are where that position is,
--   so the count goes on from it without looking it up. All NULL while nothing
--   is counted.
-- trail_version: raised by every transaction that stores positions into the
--   shift, and by every one that deletes them; a read records its count only if
--   the version is still the one it read with the positions.
-- uncounted_from: the earliest recorded_at among positions stored since the
--   count was recorded (NULL: none). Later than counted_until_at, the count goes
--   on from its last position; at or before it, a position landed among those
--   counted and the trail is counted again from its start.
ALTER TABLE shifts ADD COLUMN trail_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shifts ADD COLUMN uncounted_from TEXT;
ALTER TABLE shifts ADD COLUMN counted_m REAL;
ALTER TABLE shifts ADD COLUMN counted_until_at TEXT;
ALTER TABLE shifts ADD COLUMN counted_until_id BLOB CHECK (length(counted_until_id) = 16);
ALTER TABLE shifts ADD COLUMN counted_until_lat REAL;
ALTER TABLE shifts ADD COLUMN counted_until_lon REAL;
