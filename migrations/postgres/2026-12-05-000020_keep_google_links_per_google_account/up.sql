-- The Google account (OpenID `sub`) a grant belongs to, and the one whose
-- calendar holds each linked event. Links outlive a disconnect, so connecting
-- again can tell the same Google account (links kept) from another one (a
-- calendar of its own). Rows from before carry `email:<address>` instead,
-- or '' without an address; a connect with that address adopts them.
ALTER TABLE google_integrations ADD COLUMN google_subject TEXT NOT NULL DEFAULT '';
ALTER TABLE google_events ADD COLUMN google_subject TEXT NOT NULL DEFAULT '';
UPDATE google_integrations SET google_subject = 'email:' || lower(email) WHERE email IS NOT NULL;
UPDATE google_events SET google_subject = COALESCE(
    (SELECT i.google_subject FROM google_integrations i WHERE i.account_id = google_events.account_id),
    '');
-- Digests of the fields fieldcrm owns as they were when the event and the
-- appointment last agreed: a field is written only when its value here changed.
ALTER TABLE google_events ADD COLUMN owned_digest TEXT;
DROP INDEX google_events_account_event_key;
CREATE UNIQUE INDEX google_events_account_event_key ON google_events (account_id, google_subject, event_id);
