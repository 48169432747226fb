DROP TABLE idempotency_keys;
DROP TABLE consent_events;
DROP TABLE person_tags;
DROP TABLE people;
