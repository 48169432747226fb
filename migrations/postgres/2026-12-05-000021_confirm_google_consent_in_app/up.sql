-- A consent screen finished in a browser attaches nothing by itself: the code
-- waits here, sealed, until the person who started connecting confirms in the
-- signed-in app with the confirmation that browser was given (kept as a hash).
ALTER TABLE google_oauth_states ADD COLUMN return_url TEXT;
ALTER TABLE google_oauth_states ADD COLUMN auth_code TEXT;
ALTER TABLE google_oauth_states ADD COLUMN confirmation_hash bytea;
CREATE UNIQUE INDEX google_oauth_states_confirmation_key ON google_oauth_states (confirmation_hash);
