-- The SQLite schema: the same tables and columns as migrations/postgres (0001–0007 applied), in
-- SQLite's types. Conventions every query on this backend follows (src/db/sqlite.rs):
--   * uuids are TEXT, lower-case and hyphenated;
--   * instants are TEXT in one fixed-width UTC format, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so that text
--     order is time order (written by `db::sqlite::ts`);
--   * JSON documents are TEXT holding JSON;
--   * booleans are INTEGER 0/1, hashes BLOB.
-- Writes are serialized (one writer, `BEGIN IMMEDIATE`), so the feed needs no transaction ids: an
-- event's `global_position` is assigned in its write transaction and commits in that order.

CREATE TABLE events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at     TEXT    NOT NULL,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    sequence        INTEGER NOT NULL CHECK (sequence >= 0),
    event_type      TEXT    NOT NULL,
    event_version   TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    prev_hash       BLOB    CHECK (prev_hash IS NULL OR length(prev_hash) = 32),
    hash            BLOB    NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_pkey UNIQUE (aggregate_type, aggregate_id, sequence)
);

CREATE TABLE processed_commands (
    command_id     TEXT    PRIMARY KEY,
    request_hash   TEXT    NOT NULL,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    last_sequence  INTEGER NOT NULL,
    response       TEXT,
    created_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE subscriber_checkpoints (
    name          TEXT    PRIMARY KEY,
    last_position INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Reference data (`ehealth-es import`).
CREATE TABLE legal_entities (
    id           TEXT    PRIMARY KEY,
    type         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    nhs_verified INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE parties (
    id         TEXT PRIMARY KEY,
    tax_id     TEXT,
    first_name TEXT,
    last_name  TEXT
);

CREATE TABLE users (
    id       TEXT PRIMARY KEY,
    party_id TEXT NOT NULL
);

CREATE TABLE employees (
    id              TEXT PRIMARY KEY,
    party_id        TEXT NOT NULL,
    legal_entity_id TEXT NOT NULL,
    employee_type   TEXT NOT NULL,
    status          TEXT NOT NULL
);
CREATE INDEX employees_party_legal_entity_idx ON employees (party_id, legal_entity_id);

CREATE TABLE persons (
    id                     TEXT PRIMARY KEY,
    status                 TEXT NOT NULL,
    authentication_methods TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE dictionaries (
    name   TEXT PRIMARY KEY,
    "values" TEXT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Read side, written in the append transaction.
CREATE TABLE service_requests (
    id                        TEXT    PRIMARY KEY,
    patient_id                TEXT    NOT NULL,
    status                    TEXT    NOT NULL,
    program_processing_status TEXT,
    requester_employee_id     TEXT,
    requester_legal_entity_id TEXT,
    used_by_employee_id       TEXT,
    used_by_legal_entity_id   TEXT,
    status_reason             TEXT,
    inserted_at               TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    updated_by                TEXT,
    version                   INTEGER NOT NULL,
    document                  TEXT    NOT NULL
);
CREATE INDEX service_requests_patient_idx ON service_requests (patient_id);
CREATE INDEX service_requests_status_idx ON service_requests (status, program_processing_status);
CREATE INDEX service_requests_requester_le_page_idx
    ON service_requests (requester_legal_entity_id, updated_at, id);
CREATE INDEX service_requests_used_by_le_page_idx
    ON service_requests (used_by_legal_entity_id, updated_at, id);

CREATE TABLE merge_requests (
    id               TEXT    PRIMARY KEY,
    master_person_id TEXT    NOT NULL,
    merge_person_id  TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    legal_entity_id  TEXT    NOT NULL,
    inserted_by      TEXT    NOT NULL,
    inserted_at      TEXT    NOT NULL,
    updated_by       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    document         TEXT    NOT NULL
);
CREATE INDEX merge_requests_le_page_idx ON merge_requests (legal_entity_id, updated_at, id);

CREATE TABLE device_dispenses (
    id                        TEXT    PRIMARY KEY,
    patient_id                TEXT    NOT NULL,
    status                    TEXT    NOT NULL,
    performer_legal_entity_id TEXT    NOT NULL,
    inserted_at               TEXT    NOT NULL,
    updated_at                TEXT    NOT NULL,
    updated_by                TEXT,
    version                   INTEGER NOT NULL,
    document                  TEXT    NOT NULL
);
CREATE INDEX device_dispenses_performer_page_idx
    ON device_dispenses (performer_legal_entity_id, updated_at, id);
CREATE INDEX device_dispenses_patient_page_idx ON device_dispenses (patient_id, updated_at, id);

CREATE TABLE approvals (
    id                     TEXT    PRIMARY KEY,
    patient_id             TEXT    NOT NULL,
    status                 TEXT    NOT NULL,
    reason_service_request TEXT,
    granted_to             TEXT,
    legal_entity_id        TEXT,
    otp_expires_at         TEXT,
    inserted_at            TEXT    NOT NULL,
    updated_at             TEXT    NOT NULL,
    updated_by             TEXT,
    version                INTEGER NOT NULL,
    document               TEXT    NOT NULL
);
CREATE INDEX approvals_reason_idx ON approvals (reason_service_request);
CREATE INDEX approvals_legal_entity_idx ON approvals (legal_entity_id);

CREATE TABLE status_history (
    entity_type     TEXT    NOT NULL,
    entity_id       TEXT    NOT NULL,
    sequence        INTEGER NOT NULL,
    attribute       TEXT    NOT NULL,
    old_value       TEXT,
    new_value       TEXT,
    global_position INTEGER NOT NULL,
    changed_by      TEXT,
    changed_at      TEXT    NOT NULL,
    PRIMARY KEY (entity_type, entity_id, sequence, attribute)
);

CREATE TABLE status_change_events (
    id              TEXT    PRIMARY KEY,
    event_type      TEXT    NOT NULL,
    entity_type     TEXT    NOT NULL,
    entity_id       TEXT    NOT NULL,
    properties      TEXT    NOT NULL,
    event_time      TEXT    NOT NULL,
    changed_by      TEXT    NOT NULL,
    global_position INTEGER NOT NULL,
    sequence        INTEGER NOT NULL,
    inserted_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (entity_type, entity_id, sequence)
);
CREATE INDEX status_change_events_time_position_idx
    ON status_change_events (event_time, global_position);
CREATE INDEX status_change_events_entity_idx ON status_change_events (entity_type, entity_id);

-- Async jobs and the SMS outbox.
CREATE TABLE jobs (
    id              TEXT    PRIMARY KEY,
    legal_entity_id TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    status_code     INTEGER,
    links           TEXT,
    response_data   TEXT,
    error           TEXT,
    eta             TEXT    NOT NULL,
    inserted_at     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX jobs_pending_idx ON jobs (inserted_at) WHERE status = 'pending';

CREATE TABLE sms_outbox (
    id              TEXT    PRIMARY KEY,
    kind            TEXT    NOT NULL,
    phone_number    TEXT    NOT NULL,
    template        TEXT    NOT NULL,
    params          TEXT    NOT NULL DEFAULT '{}',
    source_position INTEGER NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    delivered_text  TEXT,
    created_at      TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    sent_at         TEXT,
    next_attempt_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (kind, source_position)
);
CREATE INDEX sms_outbox_pending_idx ON sms_outbox (created_at) WHERE status = 'pending';
