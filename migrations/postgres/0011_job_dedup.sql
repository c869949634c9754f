-- Job deduplication: a job carries the key of its command (SHA-256 of the action, the user, the
-- legal entity and the action's parameters; src/jobs.rs), and while it is pending no second job
-- with that key can exist. A request for the same command is then answered with this job instead
-- of being executed again (src/api/actions.rs). Jobs of requests with an Idempotency-Key, and jobs
-- created before this migration, have no key.
--
-- The index holds only pending jobs with a key, so it stays as small as the work in flight; once
-- the effects worker finishes a job, its key leaves the index and the same command is a new one.
-- `dedup_key = $1` implies `dedup_key IS NOT NULL`, so the lookup `WHERE dedup_key = $1 AND
-- status = 'pending'` is served by it.
ALTER TABLE jobs ADD COLUMN dedup_key text;
CREATE UNIQUE INDEX jobs_pending_dedup_key
    ON jobs (dedup_key) WHERE status = 'pending' AND dedup_key IS NOT NULL;
