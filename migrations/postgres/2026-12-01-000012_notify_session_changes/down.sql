DROP TRIGGER accounts_notify_session_change ON accounts;
DROP TRIGGER users_notify_session_change ON users;
DROP FUNCTION notify_session_change();
