//! The entity histories the rebuild measurement appends: whole units of service requests,
//! device dispenses, approvals and a merge request, each imported and then acted on, serialized
//! as the service serializes its events.

use chrono::Utc;
use cqrs_es::persist::SerializedEvent;
use cqrs_es::DomainEvent;
use ehealth_aggregates::approval::{ApprovalEvent, ApprovalRecord, ApprovalStatus};
use ehealth_aggregates::device_dispense::{
    DeviceDispenseEvent, DeviceDispenseRecord, DeviceDispenseStatus,
};
use ehealth_aggregates::merge_request::{
    MergeRequestEvent, MergeRequestRecord, MergeRequestStatus,
};
use ehealth_aggregates::service_request::{
    ProgramProcessingStatus, ServiceRequestEvent, ServiceRequestRecord, ServiceRequestStatus,
};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::dataset::{E_DOCTOR, LE, PATIENT, U_DOCTOR, U_SPECIALIST};

/// Events per unit of histories: 5 service requests imported and released, 2 device dispenses
/// imported and stopped, 2 approvals imported and resent twice, 1 merge request imported and
/// rejected.
pub const UNIT: u64 = 22;

fn metadata(user: Uuid) -> Value {
    json!({
        "user_id": user.to_string(),
        "client_id": LE.to_string(),
        "request_id": Uuid::new_v4().to_string(),
        "command_id": Uuid::new_v4().to_string(),
        "correlation_id": Uuid::new_v4().to_string(),
        "causation_id": "",
        "time": Utc::now().to_rfc3339(),
    })
}

fn event<E: DomainEvent>(
    aggregate_type: &str,
    id: Uuid,
    sequence: usize,
    e: &E,
) -> SerializedEvent {
    let user = if sequence == 1 { Uuid::nil() } else { U_DOCTOR };
    SerializedEvent::new(
        id.to_string(),
        sequence,
        aggregate_type.to_string(),
        e.event_type(),
        e.event_version(),
        serde_json::to_value(e).expect("event serializes"),
        metadata(user),
    )
}

/// What an imported service request keeps verbatim besides its typed fields.
fn service_request_other() -> Map<String, Value> {
    let other = json!({
        "intent": "order",
        "category": { "coding": [ { "system": "eHealth/SNOMED/service_request_categories", "code": "409063005" } ] },
        "code": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "service" } ] }, "value": "8b5e7f3a-5d2b-4e0e-9a7f-0c3f1c1d2e3f" } },
        "context": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "encounter" } ] }, "value": "2f6a2d1c-0b8e-4c55-9a55-8f7d8a9c0b1e" } },
        "authored_on": "2024-05-01T10:00:00Z",
        "expiration_date": "2025-05-01T10:00:00Z",
        "requisition": "BENCH-0001",
        "note": "Консультація",
        "priority": "routine",
        "reason_reference": []
    });
    other.as_object().cloned().unwrap_or_default()
}

/// The histories of one unit, entity by entity (each entity's events together, in order).
pub fn unit() -> Vec<Vec<SerializedEvent>> {
    let now = Utc::now();
    let mut out = Vec::new();
    for _ in 0..5 {
        let id = Uuid::new_v4();
        let record = ServiceRequestRecord {
            id,
            patient_id: PATIENT,
            status: ServiceRequestStatus::Active,
            program_processing_status: Some(ProgramProcessingStatus::InQueue),
            requester_employee: Some(E_DOCTOR),
            requester_legal_entity: Some(LE),
            used_by_employee: Some(E_DOCTOR),
            used_by_legal_entity: Some(LE),
            status_reason: None,
            explanatory_letter: None,
            status_history: Vec::new(),
            signed_content_links: Vec::new(),
            inserted_at: now,
            inserted_by: None,
            updated_at: now,
            updated_by: None,
            other: service_request_other(),
            released_by: Vec::new(),
        };
        let imported = ServiceRequestEvent::ServiceRequestImported(Box::new(record));
        let released = ServiceRequestEvent::ServiceRequestReleased {
            released_employee: Some(E_DOCTOR),
            released_legal_entity: Some(LE),
            by: U_DOCTOR,
            at: now,
        };
        out.push(vec![
            event("ServiceRequest", id, 1, &imported),
            event("ServiceRequest", id, 2, &released),
        ]);
    }
    for _ in 0..2 {
        let id = Uuid::new_v4();
        let mut other = Map::new();
        other.insert(
            "details".into(),
            json!([ { "device_code": "x", "quantity": { "value": 1 } } ]),
        );
        let record = DeviceDispenseRecord {
            id,
            patient_id: PATIENT,
            status: DeviceDispenseStatus::InProgress,
            performer_legal_entity: LE,
            performer: Some(E_DOCTOR),
            inserted_at: now,
            inserted_by: None,
            updated_at: now,
            updated_by: None,
            other,
        };
        out.push(vec![
            event(
                "DeviceDispense",
                id,
                1,
                &DeviceDispenseEvent::DeviceDispenseImported(Box::new(record)),
            ),
            event(
                "DeviceDispense",
                id,
                2,
                &DeviceDispenseEvent::DeviceDispenseStopped {
                    by: U_DOCTOR,
                    at: now,
                },
            ),
        ]);
    }
    for _ in 0..2 {
        let id = Uuid::new_v4();
        let mut other = Map::new();
        other.insert("access_level".into(), json!("read"));
        let record = ApprovalRecord {
            id,
            patient_id: PATIENT,
            status: ApprovalStatus::New,
            reason_service_request: None,
            granted_to: Some(E_DOCTOR),
            legal_entity_id: Some(LE),
            authorize_with: None,
            inserted_at: now,
            inserted_by: None,
            updated_at: now,
            updated_by: None,
            otp: None,
            other,
        };
        let mut history = vec![event(
            "Approval",
            id,
            1,
            &ApprovalEvent::ApprovalImported(Box::new(record)),
        )];
        for sequence in 2..=3 {
            let resent = ApprovalEvent::ApprovalOtpResent {
                method_type: "OTP".into(),
                phone_number: "+380931234585".into(),
                salt: Uuid::new_v4().simple().to_string(),
                expires_at: now + chrono::Duration::minutes(15),
                by: U_DOCTOR,
                at: now,
            };
            history.push(event("Approval", id, sequence, &resent));
        }
        out.push(history);
    }
    let id = Uuid::new_v4();
    let record = MergeRequestRecord {
        id,
        master_person_id: PATIENT,
        merge_person_id: Uuid::new_v4(),
        status: MergeRequestStatus::New,
        legal_entity_id: LE,
        inserted_by: U_SPECIALIST,
        inserted_at: now,
        updated_by: U_SPECIALIST,
        updated_at: now,
        other: Map::new(),
    };
    out.push(vec![
        event(
            "MergeRequest",
            id,
            1,
            &MergeRequestEvent::MergeRequestImported(Box::new(record)),
        ),
        event(
            "MergeRequest",
            id,
            2,
            &MergeRequestEvent::MergeRequestRejected {
                by: U_SPECIALIST,
                at: now,
            },
        ),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_has_unit_events() {
        let events: usize = unit().iter().map(Vec::len).sum();
        assert_eq!(events as u64, UNIT);
    }
}
