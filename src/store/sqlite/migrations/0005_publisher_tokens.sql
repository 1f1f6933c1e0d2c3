-- 0005: a `publisher` token's channels (issue 23): the only channels it may promote to, as a JSON
-- array of names. NULL for every other role, and for every token that existed before.
-- Append-only: never edit a migration that has landed; add the next number.
ALTER TABLE tokens ADD COLUMN channels TEXT;
