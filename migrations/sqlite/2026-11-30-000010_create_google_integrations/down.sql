ALTER TABLE jobs DROP COLUMN payload;
DROP TABLE google_events;
DROP TABLE google_oauth_states;
DROP TABLE google_integrations;
