-- 0007: placement and desired state (issue 17). An instance's machine (NULL: the one local agent,
-- as before machines existed), and per machine the numbered desired-state document the server
-- sends (number 0: none yet), what the agent answered, and its last report of what it runs.
ALTER TABLE instances ADD COLUMN machine TEXT;
CREATE INDEX instances_machine ON instances (machine);

CREATE TABLE machine_desired (
  machine TEXT PRIMARY KEY,
  number INTEGER NOT NULL DEFAULT 0,
  document TEXT,
  digest TEXT,
  updated_at INTEGER,
  acked_number INTEGER,
  acked_at INTEGER,
  rejected_number INTEGER,
  rejected_reason TEXT,
  rejected_at INTEGER,
  reported TEXT,
  reported_at INTEGER
);
