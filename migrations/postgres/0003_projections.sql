-- Read side, written in the same transaction as the events (projections crate).
-- `version` is the sequence of the last event applied; `document` is the entity's full state, from
-- which the eHealth rendering is produced.
CREATE TABLE service_requests (
    id                        uuid        PRIMARY KEY,
    patient_id                uuid        NOT NULL,
    status                    text        NOT NULL,
    program_processing_status text,
    requester_employee_id     uuid,
    requester_legal_entity_id uuid,
    used_by_employee_id       uuid,
    used_by_legal_entity_id   uuid,
    status_reason             jsonb,
    inserted_at               timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    updated_by                uuid,
    version                   bigint      NOT NULL,
    document                  jsonb       NOT NULL
);
CREATE INDEX service_requests_patient_idx ON service_requests (patient_id);
CREATE INDEX service_requests_status_idx ON service_requests (status, program_processing_status);
CREATE INDEX service_requests_requester_le_idx ON service_requests (requester_legal_entity_id);

CREATE TABLE merge_requests (
    id               uuid        PRIMARY KEY,
    master_person_id uuid        NOT NULL,
    merge_person_id  uuid        NOT NULL,
    status           text        NOT NULL,
    legal_entity_id  uuid        NOT NULL,
    inserted_by      uuid        NOT NULL,
    inserted_at      timestamptz NOT NULL,
    updated_by       uuid        NOT NULL,
    updated_at       timestamptz NOT NULL,
    version          bigint      NOT NULL,
    document         jsonb       NOT NULL
);
CREATE INDEX merge_requests_status_idx ON merge_requests (legal_entity_id, status);

CREATE TABLE device_dispenses (
    id                        uuid        PRIMARY KEY,
    patient_id                uuid        NOT NULL,
    status                    text        NOT NULL,
    performer_legal_entity_id uuid        NOT NULL,
    inserted_at               timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    updated_by                uuid,
    version                   bigint      NOT NULL,
    document                  jsonb       NOT NULL
);
CREATE INDEX device_dispenses_status_idx ON device_dispenses (performer_legal_entity_id, status);

CREATE TABLE approvals (
    id                     uuid        PRIMARY KEY,
    patient_id             uuid        NOT NULL,
    status                 text        NOT NULL,
    reason_service_request uuid,
    granted_to             uuid,
    legal_entity_id        uuid,
    otp_expires_at         timestamptz,
    inserted_at            timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL,
    updated_by             uuid,
    version                bigint      NOT NULL,
    document               jsonb       NOT NULL
);
CREATE INDEX approvals_reason_idx ON approvals (reason_service_request);

-- Every change of `status` or `program_processing_status`, per entity, in order.
CREATE TABLE status_history (
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    sequence        bigint      NOT NULL,
    attribute       text        NOT NULL,
    old_value       text,
    new_value       text,
    global_position bigint      NOT NULL,
    changed_by      uuid,
    changed_at      timestamptz NOT NULL,
    PRIMARY KEY (entity_type, entity_id, sequence, attribute)
);

-- The Event Manager feed: one StatusChangeEvent per change, in eHealth's Event Manager shape.
CREATE TABLE status_change_events (
    id              uuid        PRIMARY KEY,
    event_type      text        NOT NULL,
    entity_type     text        NOT NULL,
    entity_id       uuid        NOT NULL,
    properties      jsonb       NOT NULL,
    event_time      timestamptz NOT NULL,
    changed_by      uuid        NOT NULL,
    global_position bigint      NOT NULL,
    sequence        bigint      NOT NULL,
    inserted_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (entity_type, entity_id, sequence)
);
CREATE INDEX status_change_events_time_idx ON status_change_events (event_time);
CREATE INDEX status_change_events_entity_idx ON status_change_events (entity_type, entity_id);
