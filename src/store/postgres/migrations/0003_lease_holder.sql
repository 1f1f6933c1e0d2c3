-- 0003 (PostgreSQL): who holds a lease (server incarnation, replica host:port, pid) and its last
-- heartbeat, so a replica starting up recovers only leases that expired or that its own previous
-- incarnation held. Existing rows keep NULL: they are recovered once they expire, as before.
-- And the marker that the server has bootstrapped (entry #1 of the audit log exists): `audit verify`
-- fails on an empty log once it is set. Set here for databases that were bootstrapped before.
ALTER TABLE locks ADD COLUMN server_id TEXT;
ALTER TABLE locks ADD COLUMN replica TEXT;
ALTER TABLE locks ADD COLUMN holder_pid INTEGER;
ALTER TABLE locks ADD COLUMN heartbeat_at BIGINT;

INSERT INTO settings (key, value)
SELECT 'audit.bootstrapped', json_build_object('at', (SELECT min(at) FROM audit))
WHERE EXISTS (SELECT 1 FROM audit) OR EXISTS (SELECT 1 FROM tokens)
ON CONFLICT (key) DO NOTHING;
