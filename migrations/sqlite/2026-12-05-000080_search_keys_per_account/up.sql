-- Nothing to do: SQLite searches an account's rows through the account's own
-- index (people_account_stage_id_idx), so other accounts' rows cost nothing.
-- PostgreSQL's migration of the same name narrows its trigram index by account.
SELECT 1;
