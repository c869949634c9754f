-- The readiness probe's row (migrations/postgres/0014); on SQLite the probe does not write it,
-- the table is kept so both backends have the same tables.
CREATE TABLE readiness_probe (
    id        INTEGER PRIMARY KEY,
    probed_at TEXT    NOT NULL
);
