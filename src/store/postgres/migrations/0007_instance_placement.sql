-- 0007 (PostgreSQL): an instance lives on several machines (issue 18): its placement is either named
-- machines or a machine label selector ({"machines":[...]} or {"selector":"role=web"}); NULL: no
-- placement (the only active machine, or the one local agent). The single machine of 0006 moves in.
-- Append-only: never edit a migration that has landed; add the next number.
ALTER TABLE instances ADD COLUMN placement JSON;
UPDATE instances SET placement = json_build_object('machines', json_build_array(machine)) WHERE machine IS NOT NULL;
DROP INDEX instances_machine;
ALTER TABLE instances DROP COLUMN machine;
