-- Care plan activities: the current state of each activity (projections crate, written in the
-- append transaction like the other entity tables). A recall of a service request based on an
-- activity gives the service request's quantity back to `remaining_quantity_value`.
--
-- Quantities are `numeric`, exact as the aggregate computes them (decimals, never doubles).
-- `changed_by_legal_entity_ids` holds the legal entities on whose behalf the activity was changed
-- (a recall's legal entity): with `legal_entity_id`, the care plan's managing legal entity, they
-- are the legal entities that may read the activity, its history and its Event Manager records.
CREATE TABLE care_plan_activities (
    id                          uuid        PRIMARY KEY,
    care_plan_id                uuid        NOT NULL,
    patient_id                  uuid        NOT NULL,
    status                      text        NOT NULL,
    quantity_value              numeric,
    remaining_quantity_value    numeric,
    legal_entity_id             uuid        NOT NULL,
    changed_by_legal_entity_ids uuid[]      NOT NULL,
    inserted_at                 timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    updated_by                  uuid,
    version                     bigint      NOT NULL,
    document                    jsonb       NOT NULL
);
-- Tenancy (GET /api/events starts from the caller's visible entities): the managing legal entity
-- by btree, the legal entities that changed an activity by GIN (`@> ARRAY[$1]`).
CREATE INDEX care_plan_activities_legal_entity_idx ON care_plan_activities (legal_entity_id);
CREATE INDEX care_plan_activities_changed_by_idx
    ON care_plan_activities USING gin (changed_by_legal_entity_ids);
-- The activities of one care plan.
CREATE INDEX care_plan_activities_care_plan_idx ON care_plan_activities (care_plan_id);
