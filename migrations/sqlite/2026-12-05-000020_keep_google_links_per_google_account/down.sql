-- Before, a link lived only as long as the grant it was made under.
DELETE FROM google_events
WHERE google_subject <> COALESCE(
    (SELECT i.google_subject FROM google_integrations i WHERE i.account_id = google_events.account_id),
    google_events.google_subject || '-');
DROP INDEX google_events_account_event_key;
CREATE UNIQUE INDEX google_events_account_event_key ON google_events (account_id, event_id);
ALTER TABLE google_events DROP COLUMN owned_digest;
ALTER TABLE google_events DROP COLUMN google_subject;
ALTER TABLE google_integrations DROP COLUMN google_subject;
