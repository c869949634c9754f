-- Indexes of the auditor read side (src/api/events.rs, history.rs, time_travel.rs).
--
-- History and time travel read one aggregate's events by the events' primary key
-- (aggregate_type, aggregate_id, sequence) and need nothing more.
--
-- GET /api/events starts from the caller's visible entities (looked up by legal entity) and reaches
-- their records through 0003's (entity_type, entity_id) index; `attribute_name`/`new_value` are then
-- checked on those few rows, so they get no index of their own (a GIN index on `properties` would
-- cost every feed write and serve no plan).

-- A legal entity that sees a large share of the feed is answered by walking the feed in page order
-- instead: (event_time, global_position) serves that order and the `date` lower bound. It replaces
-- 0003's index on event_time alone (its leading prefix), which would only cost every feed write one
-- more update.
CREATE INDEX status_change_events_time_position_idx
    ON status_change_events (event_time, global_position);
DROP INDEX IF EXISTS status_change_events_time_idx;

-- Tenancy: service requests, merge requests and device dispenses have indexes led by their
-- legal-entity columns (0003; the user side of service requests from 0007's paging indexes);
-- approvals had none.
CREATE INDEX approvals_legal_entity_idx ON approvals (legal_entity_id);
