-- 0008 (PostgreSQL): artifacts shared by every server replica (issue 19, ADR 0024), content-addressed
-- and chunked. `artifacts` has one row per digest (its size, the chunk size it was written with, how
-- many chunks, when it was first and last uploaded, whether a read found it damaged: the next upload
-- of that digest then replaces it); `artifact_chunks` holds the bytes, seq 0, 1, 2…
-- An upload writes the row and every chunk in one transaction, committed only once the bytes hash to
-- the digest, so a reader sees an artifact whole or not at all. Each replica's <dataDir>/artifacts
-- is only its cache. Append-only: never edit a migration that has landed; add the next number.
CREATE TABLE artifacts (
  digest TEXT COLLATE "C" PRIMARY KEY,
  size BIGINT NOT NULL,
  chunk_size INTEGER NOT NULL,
  chunks INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  touched_at BIGINT NOT NULL,
  damaged BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE artifact_chunks (
  digest TEXT COLLATE "C" NOT NULL REFERENCES artifacts (digest) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (digest, seq)
);
-- Artifacts are gzip'd already: store the bytes out of line without trying to compress them again.
ALTER TABLE artifact_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
