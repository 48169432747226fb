DROP TRIGGER refresh_tokens_notify_session_ended ON refresh_tokens;
DROP FUNCTION notify_session_ended();
