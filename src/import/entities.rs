//! The entities of an import file (`service_requests`, `merge_requests`, `device_dispenses`,
//! `approvals`; `care_plan_activities` in [`super::care_plan_activities`]), validated into the
//! records their Import commands create. Fields the service does not model are kept verbatim.

use std::collections::HashMap;

use ehealth_aggregates::approval::ApprovalRecord;
use ehealth_aggregates::device_dispense::DeviceDispenseRecord;
use ehealth_aggregates::merge_request::MergeRequestRecord;
use ehealth_aggregates::service_request::ServiceRequestRecord;
use uuid::Uuid;

use super::fields::Fields;
use crate::api::actions::now;

pub(super) fn service_request(f: &Fields) -> anyhow::Result<ServiceRequestRecord> {
    let patient_id = f.uuid_or("patient_id", "subject")?;
    let inserted_at = f.time("inserted_at", now())?;
    Ok(ServiceRequestRecord {
        id: f.uuid("id")?,
        patient_id,
        status: f.parse("status")?,
        program_processing_status: f.opt("program_processing_status")?,
        requester_employee: f.opt_uuid("requester_employee")?,
        requester_legal_entity: f.opt_uuid("requester_legal_entity")?,
        used_by_employee: f.opt_uuid("used_by_employee")?,
        used_by_legal_entity: f.opt_uuid("used_by_legal_entity")?,
        status_reason: f.opt("status_reason")?,
        explanatory_letter: f.opt("explanatory_letter")?,
        status_history: f.opt("status_history")?.unwrap_or_default(),
        signed_content_links: f.opt("signed_content_links")?.unwrap_or_default(),
        inserted_at,
        inserted_by: f.opt_uuid("inserted_by")?,
        updated_at: f.time("updated_at", inserted_at)?,
        updated_by: f.opt_uuid("updated_by")?,
        other: f.other(&[
            "patient_id",
            "subject",
            "status",
            "program_processing_status",
            "requester_employee",
            "requester_legal_entity",
            "used_by_employee",
            "used_by_legal_entity",
            "status_reason",
            "explanatory_letter",
            "status_history",
            "signed_content_links",
        ]),
        released_by: Vec::new(),
    })
}

pub(super) fn merge_request(f: &Fields) -> anyhow::Result<MergeRequestRecord> {
    let inserted_at = f.time("inserted_at", now())?;
    let inserted_by = f.uuid("inserted_by")?;
    Ok(MergeRequestRecord {
        id: f.uuid("id")?,
        master_person_id: f.uuid("master_person_id")?,
        merge_person_id: f.uuid("merge_person_id")?,
        status: f.parse("status")?,
        legal_entity_id: f.uuid("legal_entity_id")?,
        inserted_by,
        inserted_at,
        updated_by: f.opt_uuid("updated_by")?.unwrap_or(inserted_by),
        updated_at: f.time("updated_at", inserted_at)?,
        other: f.other(&[
            "master_person_id",
            "merge_person_id",
            "status",
            "legal_entity_id",
        ]),
    })
}

pub(super) fn device_dispense(f: &Fields) -> anyhow::Result<DeviceDispenseRecord> {
    let patient_id = f.uuid_or("patient_id", "subject")?;
    let performer_legal_entity =
        f.uuid_or("performer_legal_entity_id", "performer_legal_entity")?;
    let inserted_at = f.time("inserted_at", now())?;
    Ok(DeviceDispenseRecord {
        id: f.uuid("id")?,
        patient_id,
        status: f.parse("status")?,
        performer_legal_entity,
        performer: f.opt_uuid("performer")?,
        inserted_at,
        inserted_by: f.opt_uuid("inserted_by")?,
        updated_at: f.time("updated_at", inserted_at)?,
        updated_by: f.opt_uuid("updated_by")?,
        other: f.other(&[
            "patient_id",
            "subject",
            "status",
            "performer_legal_entity",
            "performer_legal_entity_id",
            "performer",
        ]),
    })
}

/// An approval; its owning legal entity is `legal_entity_id`, else that of its `granted_to`
/// employee (from this file, or resolved from the registry when the file is imported).
pub(super) fn approval(
    f: &Fields,
    employee_le: &HashMap<Uuid, Uuid>,
) -> anyhow::Result<ApprovalRecord> {
    let granted_to = f.opt_uuid("granted_to")?;
    let legal_entity_id = f
        .opt_uuid("legal_entity_id")?
        .or_else(|| granted_to.and_then(|e| employee_le.get(&e).copied()));
    let inserted_at = f.time("inserted_at", now())?;
    Ok(ApprovalRecord {
        id: f.uuid("id")?,
        patient_id: f.uuid("patient_id")?,
        status: f.parse("status")?,
        reason_service_request: f.opt_uuid("reason")?,
        granted_to,
        legal_entity_id,
        authorize_with: f.opt_uuid("authorize_with")?,
        inserted_at,
        inserted_by: f.opt_uuid("inserted_by")?,
        updated_at: f.time("updated_at", inserted_at)?,
        updated_by: f.opt_uuid("updated_by")?,
        otp: None,
        other: f.other(&[
            "patient_id",
            "status",
            "reason",
            "granted_to",
            "legal_entity_id",
            "authorize_with",
        ]),
    })
}
