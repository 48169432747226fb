-- Customer search narrowed by the account before the text. A trigram index
-- over every account's rows made one account's search pay for the others':
-- with nine other accounts of 100k rows holding the searched word, a miss in
-- an account of 100k took 45 times as long, and the planner, judging the word
-- common from the whole table, walked the account's rows one by one. Keys of
-- the form '<account id>:<trigram>' give each account its own posting lists
-- and its own statistics: what a search costs depends on the account's rows
-- only. The query asks for the trigrams of its plain letters and digits
-- (crates/db/src/people.rs `search_keys`); the LIKE still decides each row.
CREATE FUNCTION people_search_keys(account uuid, search_text text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN ARRAY(SELECT account::text || ':' || t FROM unnest(show_trgm(search_text)) AS t);

CREATE INDEX people_search_keys_idx ON people USING gin (people_search_keys(account_id, search_text));
DROP INDEX people_search_text_trgm_idx;
