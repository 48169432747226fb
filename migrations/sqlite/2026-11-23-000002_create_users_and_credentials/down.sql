DROP TABLE login_failures;
DROP TABLE api_keys;
DROP TABLE refresh_tokens;
DROP TABLE users;
