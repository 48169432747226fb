-- A stored response body outlived the erasure of the person it described and
-- the retention of message bodies. A replay now reads the record anew, so the
-- key keeps only which record it created.
ALTER TABLE idempotency_keys ADD COLUMN resource_id uuid;
UPDATE idempotency_keys SET resource_id = (response_body::jsonb ->> 'id')::uuid
WHERE response_body::jsonb ->> 'id' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
ALTER TABLE idempotency_keys DROP COLUMN response_body;
