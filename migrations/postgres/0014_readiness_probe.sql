-- The readiness probe's write (`/health/ready`): one row, updated by every instance's probe, so a
-- database that cannot take writes (read-only, WAL full) is noticed even while no request writes.
CREATE TABLE readiness_probe (
    id        smallint    PRIMARY KEY,
    probed_at timestamptz NOT NULL
);
