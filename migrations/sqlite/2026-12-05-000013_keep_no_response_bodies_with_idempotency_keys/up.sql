-- A stored response body outlived the erasure of the person it described and
-- the retention of message bodies. A replay now reads the record anew, so the
-- key keeps only which record it created.
ALTER TABLE idempotency_keys ADD COLUMN resource_id BLOB;
UPDATE idempotency_keys
SET resource_id = unhex(replace(json_extract(response_body, '$.id'), '-', ''))
WHERE length(json_extract(response_body, '$.id')) = 36;
ALTER TABLE idempotency_keys DROP COLUMN response_body;
