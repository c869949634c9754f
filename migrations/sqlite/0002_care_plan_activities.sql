-- Care plan activities, as migrations/postgres/0010_care_plan_activities.sql in SQLite's types:
-- quantities are TEXT holding the exact decimal (`0.3`; a REAL would round it), and
-- `changed_by_legal_entity_ids` is a JSON array of uuids (TEXT), searched with json_each.
CREATE TABLE care_plan_activities (
    id                          TEXT    PRIMARY KEY,
    care_plan_id                TEXT    NOT NULL,
    patient_id                  TEXT    NOT NULL,
    status                      TEXT    NOT NULL,
    quantity_value              TEXT,
    remaining_quantity_value    TEXT,
    legal_entity_id             TEXT    NOT NULL,
    changed_by_legal_entity_ids TEXT    NOT NULL,
    inserted_at                 TEXT    NOT NULL,
    updated_at                  TEXT    NOT NULL,
    updated_by                  TEXT,
    version                     INTEGER NOT NULL,
    document                    TEXT    NOT NULL
);
CREATE INDEX care_plan_activities_legal_entity_idx ON care_plan_activities (legal_entity_id);
CREATE INDEX care_plan_activities_care_plan_idx ON care_plan_activities (care_plan_id);
