-- 0009: app config (issue 20). Every change stores a new immutable version holding every entry of
-- every layer as JSON (secrets sealed by the server before they get here: the database never holds
-- a clear secret), the key new secrets are sealed with, and a check value per key id. The latest
-- version is the current config; older ones stay while a recent deployment refers to them.
CREATE TABLE app_config_versions (
  id INTEGER PRIMARY KEY,
  created_at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  change TEXT NOT NULL,
  entries TEXT NOT NULL,
  active_key_id TEXT,
  key_checks TEXT NOT NULL
);
