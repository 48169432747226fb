DELETE FROM google_oauth_states WHERE confirmation_hash IS NOT NULL;
DROP INDEX google_oauth_states_confirmation_key;
ALTER TABLE google_oauth_states DROP COLUMN confirmation_hash;
ALTER TABLE google_oauth_states DROP COLUMN auth_code;
ALTER TABLE google_oauth_states DROP COLUMN return_url;
