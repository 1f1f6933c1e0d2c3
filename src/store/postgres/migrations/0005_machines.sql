-- 0005 (PostgreSQL): join tokens and machines (issue 17, ADR 0021). Only hashes of secrets are
-- stored: the SHA-256 of a join token's secret and of a machine's credential.
-- Append-only: never edit a migration that has landed; add the next number.
CREATE TABLE join_tokens (
  id TEXT COLLATE "C" PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  max_uses INTEGER,
  uses INTEGER NOT NULL DEFAULT 0,
  revoked_at BIGINT,
  revoked_by TEXT
);

CREATE TABLE machines (
  name TEXT COLLATE "C" PRIMARY KEY,
  labels JSON NOT NULL,
  address TEXT,
  agent_version TEXT NOT NULL,
  protocol_version INTEGER NOT NULL,
  joined_at BIGINT NOT NULL,
  last_heartbeat BIGINT,
  status TEXT NOT NULL CHECK (status IN ('active', 'draining', 'removed')),
  credential_hash TEXT NOT NULL UNIQUE,
  credential_rotated_at BIGINT NOT NULL,
  join_token TEXT NOT NULL
);
