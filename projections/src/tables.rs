//! The projection tables, each declared once (see [`projection_table!`]). The columns are in the
//! tables' order; what each holds is its doc comment (the data dictionary). Times are instants
//! in microseconds; the `document` columns hold the aggregate's internal state, from which the
//! API renders entities, so analyses should use the typed columns (which the CSV exports hold).

use ehealth_aggregates::approval::ApprovalStatus;
use ehealth_aggregates::care_plan_activity::CarePlanActivityStatus;
use ehealth_aggregates::device_dispense::DeviceDispenseStatus;
use ehealth_aggregates::merge_request::MergeRequestStatus;
use ehealth_aggregates::service_request::{ProgramProcessingStatus, ServiceRequestStatus};

use crate::table::{projection_table, Table};

projection_table! {
    /// One row per service request (referral), its current state.
    pub SERVICE_REQUESTS = "service_requests", conflict NewerVersion,
    row ServiceRequestRow, rows ServiceRequestRows {
        /// the service request id
        id: Uuid [.fixed()],
        /// the patient (`subject`), a person id
        patient_id: Uuid [.fixed()],
        status: Text [.values(ServiceRequestStatus::VALUES)],
        /// NULL for a service request without a medical program
        program_processing_status: OptText [.values(ProgramProcessingStatus::VALUES)],
        /// the employee who created it (`requester_employee`)
        requester_employee_id: OptUuid,
        /// the legal entity where it was created; it can read and recall it
        requester_legal_entity_id: OptUuid,
        /// the employee who took it into use (`used_by_employee`); cleared by release
        used_by_employee_id: OptUuid,
        /// the legal entity using it; it can read and release it; cleared by release
        used_by_legal_entity_id: OptUuid,
        /// why the status changed, a codeable concept
        /// `{"coding":[{"system":"eHealth/service_request_recall_reasons","code":"1"}]}` (set by
        /// recall, or imported)
        status_reason: OptJson,
        /// when it was created in eHealth (the import's `inserted_at`, else the time of the import)
        inserted_at: Time [.fixed()],
        /// when it last changed (the time of the last event); the lists' order
        updated_at: Time,
        /// the user (token `sub`) who made the last change; NULL when imported without one
        updated_by: OptUuid,
        /// the sequence of the last event applied: 1 after the import, +1 per action
        version: Int8,
        /// the full state, including the fields kept verbatim from the import and `status_history`
        document: Json [.not_in_csv()],
        /// the legal entities that released it, first release first (a JSON array, `[]` until
        /// one); they keep reading it
        released_by_legal_entity_ids: Json [.not_in_csv()],
    }
    listed by (updated_at, id) {
        status = "status",
        program_processing_status = "program_processing_status",
        /// Requested by this legal entity (never widens what the caller sees).
        requester_legal_entity_id = "requester_legal_entity",
        /// Used by this legal entity (never widens what the caller sees).
        used_by_legal_entity_id = "used_by_legal_entity",
        patient_id = "patient_id",
    }
}

projection_table! {
    /// One row per merge request (MPI preperson merge).
    pub MERGE_REQUESTS = "merge_requests", conflict NewerVersion,
    row MergeRequestRow, rows MergeRequestRows {
        /// the merge request id
        id: Uuid [.fixed()],
        /// the person (MPI `persons`) that stays
        master_person_id: Uuid [.fixed()],
        /// the preperson merged into it
        merge_person_id: Uuid [.fixed()],
        status: Text [.values(MergeRequestStatus::VALUES)],
        /// the legal entity where it was created; the only one that reads it
        legal_entity_id: Uuid [.fixed()],
        /// the user who created it; the only one who may reject it
        inserted_by: Uuid [.fixed()],
        /// when it was created
        inserted_at: Time [.fixed()],
        /// the user of the last change (`inserted_by` until one)
        updated_by: Uuid,
        /// when it last changed
        updated_at: Time,
        /// sequence of the last event applied
        version: Int8,
        /// the full state
        document: Json [.not_in_csv()],
    }
    listed by (updated_at, id) {
        status = "status",
    }
}

projection_table! {
    /// One row per device dispense.
    pub DEVICE_DISPENSES = "device_dispenses", conflict NewerVersion,
    row DeviceDispenseRow, rows DeviceDispenseRows {
        /// the dispense id
        id: Uuid [.fixed()],
        /// the patient (`subject`)
        patient_id: Uuid [.fixed()],
        status: Text [.values(DeviceDispenseStatus::VALUES)],
        /// the legal entity that performed it; the only one that reads or stops it
        performer_legal_entity_id: Uuid [.fixed()],
        /// when it was created
        inserted_at: Time [.fixed()],
        /// when it last changed
        updated_at: Time,
        /// the user of the last change; NULL when imported without one
        updated_by: OptUuid,
        /// sequence of the last event applied
        version: Int8,
        /// the full state (the performer employee, `details`, … as imported)
        document: Json [.not_in_csv()],
    }
    listed by (updated_at, id) {
        status = "status",
        patient_id = "patient_id",
    }
}

projection_table! {
    /// One row per approval (a patient's consent for an employee to access records).
    pub APPROVALS = "approvals", conflict NewerVersion,
    row ApprovalRow, rows ApprovalRows {
        /// the approval id
        id: Uuid [.fixed()],
        /// the patient who approves
        patient_id: Uuid [.fixed()],
        /// a recall of its service request makes a `new`/`active` approval `cancelled`
        status: Text [.values(ApprovalStatus::VALUES)],
        /// the service request it was made for (`reason`)
        reason_service_request: OptUuid [.fixed()],
        /// the employee who is granted access
        granted_to: OptUuid [.fixed()],
        /// the legal entity that owns it (that of `granted_to`); the only one that reads it or
        /// resends its SMS
        legal_entity_id: OptUuid [.fixed()],
        /// when the code of the last resend stops working (15 minutes after it); NULL before any
        /// resend
        otp_expires_at: OptTime,
        /// when it was created
        inserted_at: Time [.fixed()],
        /// when it last changed
        updated_at: Time,
        /// the user of the last change
        updated_by: OptUuid,
        /// sequence of the last event applied
        version: Int8,
        /// the full state; the OTP challenge in it holds a salt, never a code
        document: Json [.not_in_csv()],
    }
}

projection_table! {
    /// One row per care plan activity (a planned service or medication of a patient's care
    /// plan); a recall of a service request based on it gives the service request's quantity
    /// back.
    pub CARE_PLAN_ACTIVITIES = "care_plan_activities", conflict NewerVersion,
    row CarePlanActivityRow, rows CarePlanActivityRows {
        /// the activity id
        id: Uuid [.fixed()],
        /// its care plan
        care_plan_id: Uuid,
        /// the patient of the care plan
        patient_id: Uuid,
        status: Text [.values(CarePlanActivityStatus::VALUES)],
        /// the planned quantity's `value` (units in `document`); NULL for an activity that is
        /// not counted
        quantity_value: OptNumeric,
        /// what is left for new service requests, never above `quantity_value`; a recall raises
        /// it by the service request's quantity
        remaining_quantity_value: OptNumeric,
        /// the care plan's managing legal entity; it reads the activity
        legal_entity_id: Uuid,
        /// the legal entities on whose behalf the activity was changed (a recall's); they read
        /// it too
        changed_by_legal_entity_ids: UuidList,
        /// when it was created
        inserted_at: Time [.fixed()],
        /// when it last changed
        updated_at: Time,
        /// the user of the last change (the recaller for a give-back)
        updated_by: OptUuid,
        /// sequence of the last event applied
        version: Int8,
        /// the full state, including the service requests that already gave back
        document: Json [.not_in_csv()],
    }
}

projection_table! {
    /// Every change of a tracked attribute (`status` of every entity, and
    /// `program_processing_status` of service requests), creation included; primary key
    /// `(entity_type, entity_id, sequence, attribute)`.
    pub STATUS_HISTORY = "status_history", conflict Ignore,
    row HistoryRow, rows HistoryRows {
        /// `ServiceRequest`, `MergeRequest`, `DeviceDispense`, `Approval`, `CarePlanActivity`
        entity_type: Text,
        /// the entity
        entity_id: Uuid,
        /// the event (its sequence within the entity) that made the change
        sequence: Int8,
        /// `status` or `program_processing_status`
        attribute: Text,
        /// the value before; NULL at creation
        old_value: OptText,
        /// the value after; NULL when the attribute was cleared
        new_value: OptText,
        /// the event's position in the whole log (`events.global_position`)
        global_position: Int8 [.taken_from_log()],
        /// the user who made the change (the event's `metadata.user_id`); the nil uuid for
        /// imports
        changed_by: OptUuid,
        /// when (the entity's `updated_at` after the event)
        changed_at: Time,
    }
}

projection_table! {
    /// The Event Manager feed: one `StatusChangeEvent` per event that changed a tracked
    /// attribute, creations excluded. Its last column, `inserted_at` (timestamptz, not null), is
    /// written by the database (`now()`): when the row was written, which differs from
    /// `event_time` after a rebuild.
    pub STATUS_CHANGE_EVENTS = "status_change_events", conflict Ignore,
    row FeedRow, rows FeedRows {
        /// derived from entity type, id and sequence (UUID v5), so a rebuild reproduces it
        id: Uuid,
        /// always `StatusChangeEvent`
        event_type: Text,
        /// `ServiceRequest`, `MergeRequest`, `DeviceDispense`, `Approval`, `CarePlanActivity`
        entity_type: Text,
        /// the entity
        entity_id: Uuid,
        /// the changes: `{"status":{"new_value":"recalled"}}`,
        /// `{"program_processing_status":{"new_value":"new"}}`
        properties: Json,
        /// when the change happened
        event_time: Time,
        /// the user who made it; the nil uuid when the event names none
        changed_by: Uuid,
        /// the event's position in the log
        global_position: Int8 [.taken_from_log()],
        /// the event's sequence within the entity; `(entity_type, entity_id, sequence)` is
        /// unique
        sequence: Int8,
    }
}

/// Every projection table, in the order a rebuild creates them.
pub(crate) const ALL: [&Table; 7] = [
    &SERVICE_REQUESTS,
    &MERGE_REQUESTS,
    &DEVICE_DISPENSES,
    &APPROVALS,
    &CARE_PLAN_ACTIVITIES,
    &STATUS_HISTORY,
    &STATUS_CHANGE_EVENTS,
];

#[cfg(test)]
mod dictionary;
#[cfg(test)]
mod tests;
