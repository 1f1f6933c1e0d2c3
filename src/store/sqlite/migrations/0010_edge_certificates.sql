-- 0010: edge certificates (issue 21). One certificate chain per host name the routers serve over
-- TLS, its private key sealed by the server with the app-config key ring (never a clear key here),
-- and at most one default (the partial unique index). Fingerprint and expiry are kept beside the
-- PEM so `tls list` and the expiry warnings need no parsing.
CREATE TABLE edge_certificates (
  host TEXT PRIMARY KEY,
  is_default INTEGER NOT NULL DEFAULT 0,
  cert TEXT NOT NULL,
  sealed_key TEXT NOT NULL,
  hosts TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  not_after TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX edge_certificates_one_default ON edge_certificates (is_default) WHERE is_default = 1;
