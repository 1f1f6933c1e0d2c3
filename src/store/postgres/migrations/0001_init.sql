-- 0001 (PostgreSQL): the whole schema. Append-only: never edit a migration that has landed; add the next number.
--
-- Why these types:
-- - Times are BIGINT milliseconds since the epoch, like every other store; the pool parses int8 to number.
-- - JSON bodies are `json`, not `jsonb`: `json` keeps the text the store wrote, so values read back
--   exactly as written, and it accepts what JSON.stringify can emit but jsonb refuses (`\u0000`,
--   lone surrogates). The store never filters inside a body, so jsonb's indexing would buy nothing.
-- - Names that are listed in order are COLLATE "C": byte order, whatever the database's locale,
--   so every store (memory, SQLite, PostgreSQL) lists them the same way.

CREATE TABLE releases (
  seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  app TEXT COLLATE "C" NOT NULL,
  version TEXT COLLATE "C" NOT NULL,
  digest TEXT NOT NULL,
  spec JSON NOT NULL,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (app, version)
);
CREATE INDEX releases_created ON releases (created_at DESC, seq DESC);
CREATE INDEX releases_app_created ON releases (app, created_at DESC, seq DESC);

CREATE TABLE instances (
  name TEXT COLLATE "C" PRIMARY KEY,
  app TEXT NOT NULL,
  hosts JSON NOT NULL,
  environment TEXT NOT NULL,
  tenant TEXT,
  labels JSON NOT NULL,
  target JSON,
  current_version TEXT,
  active_color TEXT CHECK (active_color IN ('blue', 'green')),
  slots JSON NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX instances_app ON instances (app);

CREATE TABLE deployments (
  seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
  id TEXT PRIMARY KEY,
  instance TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  body JSON NOT NULL
);
CREATE INDEX deployments_created ON deployments (created_at DESC, seq DESC);
CREATE INDEX deployments_instance ON deployments (instance, created_at DESC, seq DESC);
-- Crash recovery looks for running deployments; finished ones are the vast majority.
CREATE INDEX deployments_running ON deployments (created_at DESC, seq DESC) WHERE status = 'running';

CREATE TABLE locks (
  instance TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  deployment_id TEXT NOT NULL,
  acquired_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE tokens (
  name TEXT COLLATE "C" PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('viewer', 'deployer', 'admin')),
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL
);

-- Ids are assigned by the appender under an advisory lock (see postgres-store.ts), not by a
-- sequence: a sequence leaves gaps when a transaction rolls back, and the chain has none.
CREATE TABLE audit (
  id BIGINT PRIMARY KEY,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  instance TEXT,
  app TEXT,
  version TEXT,
  reason TEXT,
  request_id TEXT,
  before JSON,
  after JSON,
  details JSON NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, id);
CREATE INDEX audit_instance ON audit (instance, id) WHERE instance IS NOT NULL;
CREATE INDEX audit_version ON audit (version, id) WHERE version IS NOT NULL;
CREATE INDEX audit_at ON audit (at);

-- The chain's head, kept apart from the entries so that deleting entries from the end shows.
CREATE TABLE audit_head (
  singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
  id BIGINT NOT NULL,
  hash TEXT NOT NULL
);

CREATE TABLE channels (
  name TEXT COLLATE "C" PRIMARY KEY,
  description TEXT NOT NULL,
  policy JSON NOT NULL,
  built_in BOOLEAN NOT NULL,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE channel_pointers (
  app TEXT COLLATE "C" NOT NULL,
  channel TEXT COLLATE "C" NOT NULL,
  version TEXT NOT NULL,
  moved_at BIGINT NOT NULL,
  moved_by TEXT NOT NULL,
  PRIMARY KEY (app, channel)
);

CREATE TABLE channel_moves (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  app TEXT NOT NULL,
  channel TEXT NOT NULL,
  from_version TEXT,
  to_version TEXT NOT NULL,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  reason TEXT,
  forced BOOLEAN NOT NULL
);
CREATE INDEX channel_moves_app_channel ON channel_moves (app, channel, id);
CREATE INDEX channel_moves_to ON channel_moves (to_version, id);
CREATE INDEX channel_moves_from ON channel_moves (from_version, id) WHERE from_version IS NOT NULL;

CREATE TABLE problems (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  app TEXT NOT NULL,
  version TEXT NOT NULL,
  title TEXT NOT NULL,
  details TEXT,
  status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
  source TEXT NOT NULL,
  reported_by TEXT NOT NULL,
  reported_at BIGINT NOT NULL,
  resolved_by TEXT,
  resolved_at BIGINT,
  resolution TEXT
);
CREATE INDEX problems_release ON problems (app, version, id);
