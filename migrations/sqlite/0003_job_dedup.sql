-- Job deduplication (as migrations/postgres/0011_job_dedup.sql): the key of the job's command, and
-- at most one pending job per key.
ALTER TABLE jobs ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX jobs_pending_dedup_key
    ON jobs (dedup_key) WHERE status = 'pending' AND dedup_key IS NOT NULL;
