-- 0006 (PostgreSQL): placement and desired state (issue 17). An instance's machine (NULL: the one
-- local agent, as before machines existed), and per machine the numbered desired-state document the
-- server sends (number 0: none yet), what the agent answered, and its last report of what it runs.
-- Append-only: never edit a migration that has landed; add the next number.
ALTER TABLE instances ADD COLUMN machine TEXT COLLATE "C";
CREATE INDEX instances_machine ON instances (machine);

CREATE TABLE machine_desired (
  machine TEXT COLLATE "C" PRIMARY KEY,
  number BIGINT NOT NULL DEFAULT 0,
  document JSON,
  digest TEXT,
  updated_at BIGINT,
  acked_number BIGINT,
  acked_at BIGINT,
  rejected_number BIGINT,
  rejected_reason TEXT,
  rejected_at BIGINT,
  reported JSON,
  reported_at BIGINT
);
