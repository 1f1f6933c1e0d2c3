-- 0003: what the fleet scheduler keeps: instance maintenance windows, settings (the fleet policy),
-- holds and halts; and deployments filterable by actor.
-- Append-only: never edit a migration that has landed; add the next number.

-- `window` is an SQL keyword (window functions), hence the longer name. Rows written before read
-- back as NULL: the environment's default window from the fleet policy.
ALTER TABLE instances ADD COLUMN maintenance_window TEXT;

-- The actor lives in the deployment's JSON body. A generated column derives it, so it can never
-- disagree with the body and existing rows need no backfill; VIRTUAL because ALTER TABLE cannot add
-- a STORED one. The index stores the computed value.
ALTER TABLE deployments ADD COLUMN actor TEXT GENERATED ALWAYS AS (body ->> '$.actor') VIRTUAL;
CREATE INDEX deployments_actor ON deployments (actor, created_at);
-- For `since` and the unfiltered newest-first listing (the index's rowid breaks ties like `seq`).
CREATE INDEX deployments_created ON deployments (created_at);

CREATE TABLE settings (
  key TEXT NOT NULL PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- One hold per instance. No foreign key to instances: a hold names what the operator typed, and
-- the scheduler only ever reads holds of instances it lists.
CREATE TABLE holds (
  instance TEXT NOT NULL PRIMARY KEY,
  owner TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER
) WITHOUT ROWID;

CREATE TABLE halts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app TEXT NOT NULL,
  version TEXT NOT NULL,
  reason TEXT NOT NULL,
  problem_id INTEGER,
  halted_at INTEGER NOT NULL,
  halted_by TEXT NOT NULL,
  lifted_by TEXT,
  lifted_at INTEGER,
  lift_reason TEXT
);
-- At most one active (not lifted) halt per version: the constraint insertHalt relies on.
CREATE UNIQUE INDEX halts_active ON halts (app, version) WHERE lifted_at IS NULL;
CREATE INDEX halts_release ON halts (app, version, id);
