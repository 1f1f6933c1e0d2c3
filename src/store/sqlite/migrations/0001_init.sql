-- 0001: releases, instances, deployments, locks, tokens, audit.
-- Append-only: never edit a migration that has landed; add the next number.
CREATE TABLE releases (
  app TEXT NOT NULL,
  version TEXT NOT NULL,
  digest TEXT NOT NULL,
  spec TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  UNIQUE (app, version)
);

CREATE TABLE instances (
  name TEXT PRIMARY KEY,
  app TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE deployments (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  instance TEXT NOT NULL,
  status TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX deployments_instance ON deployments (instance, created_at);

CREATE TABLE locks (
  instance TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  deployment_id TEXT NOT NULL,
  acquired_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);

CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  reason TEXT,
  details TEXT NOT NULL
);
CREATE INDEX audit_subject ON audit (subject, id);
