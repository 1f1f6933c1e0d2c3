-- 0009 (PostgreSQL): how server replicas reach each other's machines (issue 19, ADR 0025).
-- `replicas`: one row per running server process (its serverId, address, and the two int4 keys of
-- the session-level advisory lock it holds on its LISTEN connection while it lives: a replica is
-- alive exactly while that lock is held, so a SIGKILLed one is dead as soon as PostgreSQL closes its
-- connection; a dead replica's row is kept a day, so it is known dead rather than unknown). `machine_sessions`: which replica holds each machine's agent session (claimed on
-- open, released on close; a dead replica's claim counts as none). `relayed_calls`: a call another
-- replica asked the holder to run on the machine's session, and its answer, both sealed for the
-- replica that reads them (X25519 + AES-256-GCM, keys in memory only); NOTIFY on channel
-- `cutover_bus` carries only ids, the bodies and answers stay in the rows (no 8000-byte limit), and
-- the caller deletes its row once answered or given up.
-- The triggers nudge every replica when instances or machines change: each recomputes the desired
-- state of the machines whose session it holds (the number goes up only if the document changed).
-- Append-only: never edit a migration that has landed; add the next number.
CREATE TABLE replicas (
  server_id TEXT COLLATE "C" PRIMARY KEY,
  replica TEXT,
  lock_a INTEGER NOT NULL,
  lock_b INTEGER NOT NULL,
  -- Its X25519 public key: relayed bodies and answers are sealed for the one replica that reads them
  -- (the private key never leaves the process; relay-seal.ts).
  public_key TEXT NOT NULL,
  started_at BIGINT NOT NULL
);

CREATE TABLE machine_sessions (
  machine TEXT COLLATE "C" PRIMARY KEY,
  server_id TEXT COLLATE "C" NOT NULL REFERENCES replicas (server_id) ON DELETE CASCADE,
  claimed_at BIGINT NOT NULL
);

CREATE TABLE relayed_calls (
  id BIGSERIAL PRIMARY KEY,
  machine TEXT NOT NULL,
  caller TEXT COLLATE "C" NOT NULL,
  holder TEXT COLLATE "C" NOT NULL,
  type TEXT NOT NULL,
  body JSON NOT NULL,
  created_at BIGINT NOT NULL,
  taken BOOLEAN NOT NULL DEFAULT false,
  done BOOLEAN NOT NULL DEFAULT false,
  answer JSON,
  error JSON
);
CREATE INDEX relayed_calls_caller ON relayed_calls (caller) WHERE done;

CREATE FUNCTION cutover_desired_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('cutover_bus', '{"k":"desired"}');
  RETURN NULL;
END;
$$;
CREATE TRIGGER instances_desired_changed AFTER INSERT OR UPDATE OR DELETE ON instances
  FOR EACH STATEMENT EXECUTE FUNCTION cutover_desired_changed();
CREATE TRIGGER machines_desired_changed AFTER INSERT OR DELETE ON machines
  FOR EACH STATEMENT EXECUTE FUNCTION cutover_desired_changed();
-- Not on every heartbeat: only what a desired state is computed from (labels for placement, status for draining).
CREATE TRIGGER machines_desired_updated AFTER UPDATE ON machines
  FOR EACH ROW WHEN (OLD.labels::text IS DISTINCT FROM NEW.labels::text OR OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION cutover_desired_changed();
