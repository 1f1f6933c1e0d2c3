-- 0008: an instance lives on several machines (issue 18): its placement is either named machines
-- or a machine label selector, kept as JSON ({"machines":[...]} or {"selector":"role=web"}); NULL:
-- no placement (the only active machine, or the one local agent). The single machine of 0007 moves in.
ALTER TABLE instances ADD COLUMN placement TEXT;
UPDATE instances SET placement = json_object('machines', json_array(machine)) WHERE machine IS NOT NULL;
DROP INDEX instances_machine;
ALTER TABLE instances DROP COLUMN machine;
