-- An access token names its session (the refresh-token family of one sign-in);
-- a session ends when its tokens are revoked (sign-out, or a spent refresh
-- token shown again). Processes that keep session facts between requests hear
-- of it here, as they do of a role change, whoever revoked the tokens.
CREATE FUNCTION notify_session_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fieldcrm_session_changes', 'user:' || NEW.user_id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER refresh_tokens_notify_session_ended
    AFTER UPDATE OF revoked_at ON refresh_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION notify_session_ended();
