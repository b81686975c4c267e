-- The job queue every node claims from: the daily pass, the weekly digests. A job's key is unique
-- while it is pending (queued, running or retrying), so two nodes asking for the same work make one
-- job; a running job holds a lease its node renews, and a node that dies leaves it to another once
-- the lease runs out. Finished jobs stay, for a while, as the record of what ran.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    claimed_until BIGINT,
    claimed_by TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE UNIQUE INDEX jobs_pending_key ON jobs (key) WHERE status IN ('queued', 'running', 'retrying');
CREATE INDEX jobs_key ON jobs (key, id);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('queued', 'running', 'retrying');
