-- The bodies are gone; a replay of a key from before this point answers an
-- empty object.
ALTER TABLE idempotency_keys ADD COLUMN response_body TEXT NOT NULL DEFAULT '{}';
ALTER TABLE idempotency_keys DROP COLUMN resource_id;
