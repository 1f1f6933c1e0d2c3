-- 0010 (PostgreSQL): app config (issue 20), as SQLite's 0009. Every change stores a new immutable
-- version holding every entry of every layer (secrets sealed by the server: never a clear secret
-- here), the key new secrets are sealed with, and a check value per key id. Writers serialise on a
-- transaction-scoped advisory lock, so a key rotation and a concurrent change never interleave.
CREATE TABLE app_config_versions (
  id BIGINT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  change TEXT NOT NULL,
  entries JSONB NOT NULL,
  active_key_id TEXT,
  key_checks JSONB NOT NULL
);
