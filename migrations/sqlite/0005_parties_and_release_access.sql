-- Recall refuses a caller whose party is not verified or has died (migrations/postgres/0013).
ALTER TABLE parties ADD COLUMN verification_status TEXT;
ALTER TABLE parties ADD COLUMN death_date TEXT;

-- The legal entities that released a service request, as a JSON array (they keep reading it).
ALTER TABLE service_requests ADD COLUMN released_by_legal_entity_ids TEXT NOT NULL DEFAULT '[]';

UPDATE service_requests
SET released_by_legal_entity_ids = (
    SELECT json_group_array(legal_entity) FROM (
        SELECT json_extract(e.payload, '$.ServiceRequestReleased.released_legal_entity') AS legal_entity,
               min(e.sequence) AS first_sequence
        FROM events e
        WHERE e.aggregate_type = 'ServiceRequest' AND e.event_type = 'ServiceRequestReleased'
          AND e.aggregate_id = service_requests.id
          AND json_extract(e.payload, '$.ServiceRequestReleased.released_legal_entity') IS NOT NULL
        GROUP BY 1
        ORDER BY first_sequence
    )
)
WHERE id IN (
    SELECT aggregate_id FROM events
    WHERE aggregate_type = 'ServiceRequest' AND event_type = 'ServiceRequestReleased'
      AND json_extract(payload, '$.ServiceRequestReleased.released_legal_entity') IS NOT NULL
);
UPDATE service_requests
SET document = json_set(document, '$.record.released_by', json(released_by_legal_entity_ids))
WHERE released_by_legal_entity_ids <> '[]';

CREATE INDEX approvals_granted_to_idx ON approvals (granted_to);
