-- 0002: the control plane's records: instances with declared fields as real columns, channels,
-- channel pointers and moves, problems, token authors, and the hash-chained audit log.
-- Append-only: never edit a migration that has landed; add the next number.

-- Instances: declared fields become columns (selectors filter on them); the deployer's runtime
-- state (currentVersion, activeColor, slots) stays one JSON value, written only by saveInstanceState.
-- WITHOUT ROWID clusters rows by name, so listing and keyset paging read the table in order
-- instead of walking an index and looking every row up.
CREATE TABLE instances_v2 (
  name TEXT NOT NULL PRIMARY KEY,
  app TEXT NOT NULL,
  hosts TEXT NOT NULL,
  environment TEXT NOT NULL,
  tenant TEXT,
  labels TEXT NOT NULL DEFAULT '{}',
  target_kind TEXT CHECK (target_kind IN ('version', 'channel')),
  target_value TEXT,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK ((target_kind IS NULL) = (target_value IS NULL))
) WITHOUT ROWID;

-- 0001 kept the whole record in `body`; it had no tenant, labels or target.
INSERT INTO instances_v2 (name, app, hosts, environment, tenant, labels, target_kind, target_value, state, created_at, updated_at)
SELECT
  name,
  app,
  coalesce(body -> '$.hosts', '[]'),
  coalesce(body ->> '$.environment', 'production'),
  NULL,
  '{}',
  NULL,
  NULL,
  json_object(
    'currentVersion', body ->> '$.currentVersion',
    'activeColor', body ->> '$.activeColor',
    'slots', coalesce(body -> '$.slots', json('{"blue":null,"green":null}'))
  ),
  created_at,
  updated_at
FROM instances;

DROP TABLE instances;
ALTER TABLE instances_v2 RENAME TO instances;
CREATE INDEX instances_environment ON instances (environment);
CREATE INDEX instances_tenant ON instances (tenant);

CREATE TABLE channels (
  name TEXT NOT NULL PRIMARY KEY,
  description TEXT NOT NULL,
  policy TEXT NOT NULL,
  built_in INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE channel_pointers (
  app TEXT NOT NULL,
  channel TEXT NOT NULL,
  version TEXT NOT NULL,
  moved_at INTEGER NOT NULL,
  moved_by TEXT NOT NULL,
  PRIMARY KEY (app, channel)
) WITHOUT ROWID;

CREATE TABLE channel_moves (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app TEXT NOT NULL,
  channel TEXT NOT NULL,
  from_version TEXT,
  to_version TEXT NOT NULL,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT,
  forced INTEGER NOT NULL
);
CREATE INDEX channel_moves_app_channel ON channel_moves (app, channel, id);
CREATE INDEX channel_moves_to ON channel_moves (to_version);
CREATE INDEX channel_moves_from ON channel_moves (from_version);

CREATE TABLE problems (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app TEXT NOT NULL,
  version TEXT NOT NULL,
  title TEXT NOT NULL,
  details TEXT,
  status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
  source TEXT NOT NULL,
  reported_by TEXT NOT NULL,
  reported_at INTEGER NOT NULL,
  resolved_by TEXT,
  resolved_at INTEGER,
  resolution TEXT
);
CREATE INDEX problems_release ON problems (app, version, status);

ALTER TABLE tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT 'system';

-- The audit chain. Rows written by 0001 get empty hashes here: SQL cannot compute sha256, so
-- migrate.ts chains them in TypeScript (chainLegacyAudit) inside this migration's transaction.
ALTER TABLE audit ADD COLUMN instance TEXT;
ALTER TABLE audit ADD COLUMN app TEXT;
ALTER TABLE audit ADD COLUMN version TEXT;
ALTER TABLE audit ADD COLUMN request_id TEXT;
ALTER TABLE audit ADD COLUMN "before" TEXT NOT NULL DEFAULT 'null';
ALTER TABLE audit ADD COLUMN "after" TEXT NOT NULL DEFAULT 'null';
ALTER TABLE audit ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_instance ON audit (instance, id);
CREATE INDEX audit_version ON audit (version, id);
CREATE INDEX audit_app ON audit (app, id);

-- The chain's head, apart from the entries, so deleting entries from the end is detectable.
CREATE TABLE audit_head (
  one INTEGER NOT NULL PRIMARY KEY CHECK (one = 1),
  id INTEGER NOT NULL,
  hash TEXT NOT NULL
);
