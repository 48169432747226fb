CREATE INDEX people_search_text_trgm_idx ON people USING gin (search_text gin_trgm_ops);
DROP INDEX people_search_keys_idx;
DROP FUNCTION people_search_keys(uuid, text);
