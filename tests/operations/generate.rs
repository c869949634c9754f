//! Many valid events, fast: whole entity histories (import, then the actions) appended through the
//! service's real `persist` (hashes, live projections and all), a few hundred entities per
//! transaction, so every event is exactly what the service itself would have appended.

use std::sync::Arc;

use crate::support::service::Db;
use chrono::{Duration, Utc};
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
use cqrs_es::DomainEvent;
use ehealth_aggregates::approval::{ApprovalEvent, ApprovalRecord, ApprovalStatus};
use ehealth_aggregates::device_dispense::{
    DeviceDispenseEvent, DeviceDispenseRecord, DeviceDispenseStatus,
};
use ehealth_aggregates::service_request::{
    ProgramProcessingStatus, ServiceRequestEvent, ServiceRequestRecord, ServiceRequestStatus,
};
use ehealth_aggregates::ServiceRequest;
use ehealth_es::store::EventRepository;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::support::world::*;

/// Events per "unit": 5 service requests imported and released, 2 device dispenses imported and
/// stopped, 2 approvals imported with two OTP resends each.
pub const UNIT: u64 = 20;
/// Units per append transaction.
const UNITS_PER_COMMIT: u64 = 50;

fn metadata(user: Uuid) -> Value {
    json!({
        "user_id": user.to_string(),
        "client_id": LE_MAIN.to_string(),
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

/// The fields of an imported service request this service keeps verbatim (as in the fixture).
fn service_request_other() -> Map<String, Value> {
    let other = json!({
        "intent": "order",
        "category": { "coding": [ { "system": "eHealth/SNOMED/service_request_categories", "code": "409063005" } ] },
        "code": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "service" } ] }, "value": "8b5e7f3a-5d2b-4e0e-9a7f-0c3f1c1d2e3f" } },
        "context": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "encounter" } ] }, "value": "2f6a2d1c-0b8e-4c55-9a55-8f7d8a9c0b1e" } },
        "authored_on": "2024-05-01T10:00:00Z",
        "expiration_date": "2025-05-01T10:00:00Z",
        "requisition": SR_REQUISITION,
        "note": "Консультація",
        "priority": "routine",
        "reason_reference": []
    });
    other.as_object().cloned().unwrap_or_default()
}

/// One unit of entity histories.
fn unit(out: &mut Vec<SerializedEvent>) {
    let now = Utc::now();
    for _ in 0..5 {
        let id = Uuid::new_v4();
        let record = ServiceRequestRecord {
            id,
            patient_id: P_OTP,
            status: ServiceRequestStatus::Active,
            program_processing_status: Some(ProgramProcessingStatus::InQueue),
            requester_employee: Some(E_DOCTOR),
            requester_legal_entity: Some(LE_MAIN),
            used_by_employee: Some(E_DOCTOR),
            used_by_legal_entity: Some(LE_MAIN),
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
            released_legal_entity: Some(LE_MAIN),
            by: U_DOCTOR,
            at: now,
        };
        out.push(event("ServiceRequest", id, 1, &imported));
        out.push(event("ServiceRequest", id, 2, &released));
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
            patient_id: P_OTP,
            status: DeviceDispenseStatus::InProgress,
            performer_legal_entity: LE_MAIN,
            performer: Some(E_DOCTOR),
            inserted_at: now,
            inserted_by: None,
            updated_at: now,
            updated_by: None,
            other,
        };
        out.push(event(
            "DeviceDispense",
            id,
            1,
            &DeviceDispenseEvent::DeviceDispenseImported(Box::new(record)),
        ));
        out.push(event(
            "DeviceDispense",
            id,
            2,
            &DeviceDispenseEvent::DeviceDispenseStopped {
                by: U_DOCTOR,
                at: now,
            },
        ));
    }
    for _ in 0..2 {
        let id = Uuid::new_v4();
        let mut other = Map::new();
        other.insert("access_level".into(), json!("read"));
        let record = ApprovalRecord {
            id,
            patient_id: P_OTP,
            status: ApprovalStatus::New,
            reason_service_request: None,
            granted_to: Some(E_DOCTOR),
            legal_entity_id: Some(LE_MAIN),
            authorize_with: None,
            inserted_at: now,
            inserted_by: None,
            updated_at: now,
            updated_by: None,
            otp: None,
            other,
        };
        out.push(event(
            "Approval",
            id,
            1,
            &ApprovalEvent::ApprovalImported(Box::new(record)),
        ));
        for sequence in 2..=3 {
            let resent = ApprovalEvent::ApprovalOtpResent {
                method_type: "OTP".into(),
                phone_number: PHONE_OTP.into(),
                salt: Uuid::new_v4().simple().to_string(),
                expires_at: now + Duration::minutes(15),
                by: U_DOCTOR,
                at: now,
            };
            out.push(event("Approval", id, sequence, &resent));
        }
    }
}

/// Appends at least `events` events (whole units) with two concurrent writers; returns how many.
pub async fn generate(db: &Db, events: u64) -> u64 {
    let units = events.div_ceil(UNIT);
    let writers = 2;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let repo = EventRepository::new(db.clone(), Arc::new(tokio::sync::Notify::new()));
        let mine = units / writers + u64::from(w < units % writers);
        tasks.push(tokio::spawn(async move {
            let mut left = mine;
            while left > 0 {
                let n = left.min(UNITS_PER_COMMIT);
                let mut batch = Vec::with_capacity((n * UNIT) as usize);
                for _ in 0..n {
                    unit(&mut batch);
                }
                // The aggregate type parameter is not used by `persist`; every event names its own.
                repo.persist::<ServiceRequest>(&batch, None)
                    .await
                    .expect("generated events persist");
                left -= n;
            }
        }));
    }
    for task in tasks {
        task.await.expect("generator task");
    }
    units * UNIT
}
