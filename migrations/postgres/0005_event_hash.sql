-- Tamper evidence (README, "Operations"): every event carries a SHA-256 over its content and the
-- hash of the same aggregate's previous event (`prev_hash`, NULL for an aggregate's first event).
-- The chain is per aggregate so that appends to different entities never wait on each other.
-- `persist` computes both in the append transaction, with `recorded_at` set by the application.
ALTER TABLE events
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash      bytea,
    ADD CONSTRAINT events_prev_hash_length CHECK (prev_hash IS NULL OR octet_length(prev_hash) = 32);

-- Every new event must be hashed. NOT VALID: events appended before this migration are hashed by
-- the backfill that `migrate` runs next (src/store/audit.rs), which then validates the constraint.
ALTER TABLE events
    ADD CONSTRAINT events_hash_present CHECK (hash IS NOT NULL AND octet_length(hash) = 32) NOT VALID;
