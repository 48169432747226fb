-- An event made in Google Calendar that none of the account's customers or
-- prospects attends becomes an appointment without a customer.
ALTER TABLE appointments ALTER COLUMN person_id DROP NOT NULL;
