-- 0011 (PostgreSQL): edge certificates (issue 21), as SQLite's 0010. One chain per host name, its
-- private key sealed by the server with the app-config key ring (never a clear key here), at most
-- one default (the partial unique index).
CREATE TABLE edge_certificates (
  host TEXT COLLATE "C" PRIMARY KEY,
  is_default BOOLEAN NOT NULL DEFAULT FALSE,
  cert TEXT NOT NULL,
  sealed_key JSONB NOT NULL,
  hosts JSONB NOT NULL,
  fingerprint TEXT NOT NULL,
  not_after TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX edge_certificates_one_default ON edge_certificates (is_default) WHERE is_default;
-- A certificate set or removed changes the desired state of the machines serving its host: every
-- replica is nudged to push theirs (the function of 0009), as for instances and machines.
CREATE TRIGGER edge_certificates_desired_changed AFTER INSERT OR UPDATE OR DELETE ON edge_certificates
  FOR EACH STATEMENT EXECUTE FUNCTION cutover_desired_changed();
