-- 0006: join tokens and machines (issue 17, ADR 0021). Only hashes of secrets are stored: the
-- SHA-256 of a join token's secret and of a machine's credential.
CREATE TABLE join_tokens (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  max_uses INTEGER,
  uses INTEGER NOT NULL DEFAULT 0,
  revoked_at INTEGER,
  revoked_by TEXT
);

CREATE TABLE machines (
  name TEXT PRIMARY KEY,
  labels TEXT NOT NULL,
  address TEXT,
  agent_version TEXT NOT NULL,
  protocol_version INTEGER NOT NULL,
  joined_at INTEGER NOT NULL,
  last_heartbeat INTEGER,
  status TEXT NOT NULL CHECK (status IN ('active', 'draining', 'removed')),
  credential_hash TEXT NOT NULL UNIQUE,
  credential_rotated_at INTEGER NOT NULL,
  join_token TEXT NOT NULL
);
