-- 0002 (PostgreSQL): what the fleet scheduler keeps: instance maintenance windows, settings (the
-- fleet policy), holds and halts; and deployments filterable by actor.
-- Append-only: never edit a migration that has landed; add the next number.

-- `window` is a reserved word, hence the longer name. Rows written before read back as NULL: the
-- environment's default window from the fleet policy.
ALTER TABLE instances ADD COLUMN maintenance_window TEXT;

-- The actor lives in the deployment's JSON body. A generated column derives it, so it can never
-- disagree with the body and is filled for existing rows by this statement.
ALTER TABLE deployments ADD COLUMN actor TEXT GENERATED ALWAYS AS (body ->> 'actor') STORED;
CREATE INDEX deployments_actor ON deployments (actor, created_at DESC, seq DESC);

CREATE TABLE settings (
  key TEXT COLLATE "C" PRIMARY KEY,
  value JSON NOT NULL
);

-- One hold per instance. No foreign key to instances: a hold names what the operator typed, and
-- the scheduler only ever reads holds of instances it lists.
CREATE TABLE holds (
  instance TEXT COLLATE "C" PRIMARY KEY,
  owner TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT
);

-- Ids come from an identity: they only have to increase (a rolled-back insert leaves a gap).
CREATE TABLE halts (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  app TEXT NOT NULL,
  version TEXT NOT NULL,
  reason TEXT NOT NULL,
  problem_id BIGINT,
  halted_at BIGINT NOT NULL,
  halted_by TEXT NOT NULL,
  lifted_by TEXT,
  lifted_at BIGINT,
  lift_reason TEXT
);
-- At most one active (not lifted) halt per version. insertHalt's ON CONFLICT names this index's
-- columns and predicate: a concurrent insert of the same version waits for the first to commit,
-- then does nothing.
CREATE UNIQUE INDEX halts_active ON halts (app, version) WHERE lifted_at IS NULL;
CREATE INDEX halts_release ON halts (app, version, id);
