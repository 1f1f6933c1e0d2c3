-- 0004 (PostgreSQL): the `publisher` role and its channels (issue 23): the only channels a
-- publisher token may promote to, as a JSON array of names. NULL for every other role, and for
-- every token that existed before. The role check of 0001 gains `publisher`.
-- Append-only: never edit a migration that has landed; add the next number.
ALTER TABLE tokens DROP CONSTRAINT tokens_role_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_role_check CHECK (role IN ('viewer', 'deployer', 'admin', 'publisher'));
ALTER TABLE tokens ADD COLUMN channels JSONB;
