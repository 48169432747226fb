-- Each API process may keep, between requests, what an access token is checked
-- against: the user's role and token version, the account's country. These
-- triggers tell every listening process on commit when any of that changes or
-- is removed, whoever made the change (another process, a migration, psql).
CREATE FUNCTION notify_session_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fieldcrm_session_changes', TG_ARGV[0] || ':' || OLD.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_notify_session_change
    AFTER UPDATE OF role, token_version, account_id OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_session_change('user');

CREATE TRIGGER accounts_notify_session_change
    AFTER UPDATE OF default_country OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION notify_session_change('account');
