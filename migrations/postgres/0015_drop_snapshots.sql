-- The snapshots table of 0001 was created for a library repository the service no longer uses; it
-- only ever ran in event-store mode, so the table was never written. SQLite never had it.
DROP TABLE IF EXISTS snapshots;
