-- Recall refuses a caller whose party is not verified or has died: the registry's copy keeps both.
ALTER TABLE parties
    ADD COLUMN verification_status text,
    ADD COLUMN death_date          date;

-- A legal entity keeps reading a service request it released (it changed it): the projection keeps
-- who released it, as a JSON array of legal entity ids, searchable through a GIN index.
ALTER TABLE service_requests
    ADD COLUMN released_by_legal_entity_ids jsonb NOT NULL DEFAULT '[]';

-- Releases already in the log: the same list the aggregate's `apply` builds (first release first).
WITH released AS (
    SELECT id, jsonb_agg(legal_entity ORDER BY first_sequence) AS legal_entities
    FROM (
        SELECT aggregate_id::uuid AS id,
               payload -> 'ServiceRequestReleased' ->> 'released_legal_entity' AS legal_entity,
               min(sequence) AS first_sequence
        FROM events
        WHERE aggregate_type = 'ServiceRequest' AND event_type = 'ServiceRequestReleased'
          AND payload -> 'ServiceRequestReleased' ->> 'released_legal_entity' IS NOT NULL
        GROUP BY 1, 2
    ) releases
    GROUP BY id
)
UPDATE service_requests s
SET released_by_legal_entity_ids = r.legal_entities,
    document = jsonb_set(s.document, '{record,released_by}', r.legal_entities)
FROM released r
WHERE s.id = r.id;

CREATE INDEX service_requests_released_by_idx
    ON service_requests USING gin (released_by_legal_entity_ids jsonb_path_ops);

-- Recall by a holder of a care-plan approval reads the approvals granted to the user's employees.
CREATE INDEX approvals_granted_to_idx ON approvals (granted_to);
