//! Generated entity histories, for measuring and testing the projections rebuild on a log of any
//! size: whole units of service requests, device dispenses, approvals and a merge request, each
//! imported and then acted on, serialized as the service serializes its events and appended
//! through the service's own `persist` (hash chains, live projections, everything the service
//! writes for an event). Not part of the service: built with the `histories` feature only (the
//! benchmark and the operations tests).

use chrono::{DateTime, Duration, Utc};
use cqrs_es::persist::{PersistedEventRepository, SerializedEvent};
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
use ehealth_aggregates::ServiceRequest;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use uuid::Uuid;

use super::EventRepository;
use crate::db::Db;

/// Events per unit of histories: 5 service requests imported and released, 2 device dispenses
/// imported and stopped, 2 approvals imported and resent twice, 1 merge request imported and
/// rejected.
pub const UNIT: u64 = 22;

/// Who the generated entities belong to and who acts on them: the reference data of the
/// database the histories are appended to.
#[derive(Debug, Clone, Copy)]
pub struct Cast {
    pub legal_entity: Uuid,
    pub patient: Uuid,
    /// The patient's phone, where the approvals' codes are sent.
    pub patient_phone: &'static str,
    /// The employee who requests, uses and dispenses, and the user behind them.
    pub doctor_employee: Uuid,
    pub doctor_user: Uuid,
    /// The user who rejects the merge requests.
    pub specialist_user: Uuid,
    /// The service requests' requisition number.
    pub requisition: &'static str,
}

impl Cast {
    fn metadata(&self, user: Uuid) -> Value {
        json!({
            "user_id": user.to_string(),
            "client_id": self.legal_entity.to_string(),
            "request_id": Uuid::new_v4().to_string(),
            "command_id": Uuid::new_v4().to_string(),
            "correlation_id": Uuid::new_v4().to_string(),
            "causation_id": "",
            "time": Utc::now().to_rfc3339(),
        })
    }

    /// The `sequence`th event of an entity; imports (sequence 1) are made by no user, as an
    /// import is.
    fn event<E: DomainEvent>(
        &self,
        aggregate_type: &str,
        id: Uuid,
        sequence: usize,
        e: &E,
    ) -> SerializedEvent {
        let user = if sequence == 1 {
            Uuid::nil()
        } else {
            self.doctor_user
        };
        SerializedEvent::new(
            id.to_string(),
            sequence,
            aggregate_type.to_string(),
            e.event_type(),
            e.event_version(),
            serde_json::to_value(e).expect("event serializes"),
            self.metadata(user),
        )
    }

    /// The history of an entity imported and then acted on once.
    fn imported_then<E: DomainEvent>(
        &self,
        aggregate_type: &str,
        id: Uuid,
        imported: E,
        then: E,
    ) -> Vec<SerializedEvent> {
        vec![
            self.event(aggregate_type, id, 1, &imported),
            self.event(aggregate_type, id, 2, &then),
        ]
    }

    /// What an imported service request keeps verbatim besides its typed fields.
    fn service_request_other(&self) -> Map<String, Value> {
        object(json!({
            "intent": "order",
            "category": { "coding": [ { "system": "eHealth/SNOMED/service_request_categories", "code": "409063005" } ] },
            "code": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "service" } ] }, "value": "8b5e7f3a-5d2b-4e0e-9a7f-0c3f1c1d2e3f" } },
            "context": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "encounter" } ] }, "value": "2f6a2d1c-0b8e-4c55-9a55-8f7d8a9c0b1e" } },
            "authored_on": "2024-05-01T10:00:00Z",
            "expiration_date": "2025-05-01T10:00:00Z",
            "requisition": self.requisition,
            "note": "Консультація",
            "priority": "routine",
            "reason_reference": []
        }))
    }

    /// The histories of one unit, entity by entity (each entity's events together, in order).
    pub fn unit(&self) -> Vec<Vec<SerializedEvent>> {
        let now = Utc::now();
        let mut out = Vec::new();
        out.extend((0..5).map(|_| self.service_request(Uuid::new_v4(), now)));
        out.extend((0..2).map(|_| self.device_dispense(Uuid::new_v4(), now)));
        out.extend((0..2).map(|_| self.approval(Uuid::new_v4(), now)));
        out.push(self.merge_request(Uuid::new_v4(), now));
        out
    }

    /// Imported active and in the queue, then released.
    fn service_request(&self, id: Uuid, now: DateTime<Utc>) -> Vec<SerializedEvent> {
        let record = ServiceRequestRecord {
            id,
            patient_id: self.patient,
            status: ServiceRequestStatus::Active,
            program_processing_status: Some(ProgramProcessingStatus::InQueue),
            requester_employee: Some(self.doctor_employee),
            requester_legal_entity: Some(self.legal_entity),
            used_by_employee: Some(self.doctor_employee),
            used_by_legal_entity: Some(self.legal_entity),
            status_reason: None,
            explanatory_letter: None,
            status_history: Vec::new(),
            signed_content_links: Vec::new(),
            inserted_at: now,
            inserted_by: None,
            updated_at: now,
            updated_by: None,
            other: self.service_request_other(),
            released_by: Vec::new(),
        };
        let imported = ServiceRequestEvent::ServiceRequestImported(Box::new(record));
        let released = ServiceRequestEvent::ServiceRequestReleased {
            released_employee: Some(self.doctor_employee),
            released_legal_entity: Some(self.legal_entity),
            by: self.doctor_user,
            at: now,
        };
        self.imported_then("ServiceRequest", id, imported, released)
    }

    /// Imported in progress, then stopped.
    fn device_dispense(&self, id: Uuid, now: DateTime<Utc>) -> Vec<SerializedEvent> {
        let other =
            object(json!({ "details": [ { "device_code": "x", "quantity": { "value": 1 } } ] }));
        let record = DeviceDispenseRecord {
            id,
            patient_id: self.patient,
            status: DeviceDispenseStatus::InProgress,
            performer_legal_entity: self.legal_entity,
            performer: Some(self.doctor_employee),
            inserted_at: now,
            inserted_by: None,
            updated_at: now,
            updated_by: None,
            other,
        };
        let imported = DeviceDispenseEvent::DeviceDispenseImported(Box::new(record));
        let stopped = DeviceDispenseEvent::DeviceDispenseStopped {
            by: self.doctor_user,
            at: now,
        };
        self.imported_then("DeviceDispense", id, imported, stopped)
    }

    /// Imported new, then its code resent twice.
    fn approval(&self, id: Uuid, now: DateTime<Utc>) -> Vec<SerializedEvent> {
        let other = object(json!({ "access_level": "read" }));
        let record = ApprovalRecord {
            id,
            patient_id: self.patient,
            status: ApprovalStatus::New,
            reason_service_request: None,
            granted_to: Some(self.doctor_employee),
            legal_entity_id: Some(self.legal_entity),
            authorize_with: None,
            inserted_at: now,
            inserted_by: None,
            updated_at: now,
            updated_by: None,
            otp: None,
            other,
        };
        let imported = ApprovalEvent::ApprovalImported(Box::new(record));
        let mut history = vec![self.event("Approval", id, 1, &imported)];
        for sequence in 2..=3 {
            let resent = ApprovalEvent::ApprovalOtpResent {
                method_type: "OTP".into(),
                phone_number: self.patient_phone.into(),
                salt: Uuid::new_v4().simple().to_string(),
                expires_at: now + Duration::minutes(15),
                by: self.doctor_user,
                at: now,
            };
            history.push(self.event("Approval", id, sequence, &resent));
        }
        history
    }

    /// Imported new (the patient merged with a person of its own), then rejected.
    fn merge_request(&self, id: Uuid, now: DateTime<Utc>) -> Vec<SerializedEvent> {
        let record = MergeRequestRecord {
            id,
            master_person_id: self.patient,
            merge_person_id: Uuid::new_v4(),
            status: MergeRequestStatus::New,
            legal_entity_id: self.legal_entity,
            inserted_by: self.specialist_user,
            inserted_at: now,
            updated_by: self.specialist_user,
            updated_at: now,
            other: Map::new(),
        };
        let imported = MergeRequestEvent::MergeRequestImported(Box::new(record));
        let rejected = MergeRequestEvent::MergeRequestRejected {
            by: self.specialist_user,
            at: now,
        };
        self.imported_then("MergeRequest", id, imported, rejected)
    }
}

/// The members of a JSON object (none for any other value).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(members) => members,
        _ => Map::new(),
    }
}

/// Appends `units` units to `db` through `persist`, `units_per_commit` units per transaction, with
/// two concurrent writers (as concurrent commands append).
pub async fn append(
    db: Db,
    cast: Cast,
    units: u64,
    units_per_commit: u64,
) -> Result<(), anyhow::Error> {
    let writers = 2u64;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let repo = EventRepository::new(db.clone(), Arc::new(tokio::sync::Notify::new()));
        let mine = units / writers + u64::from(w < units % writers);
        tasks.push(tokio::spawn(async move {
            let mut left = mine;
            while left > 0 {
                let n = left.min(units_per_commit);
                let batch: Vec<SerializedEvent> =
                    (0..n).flat_map(|_| cast.unit()).flatten().collect();
                // The aggregate type parameter is not used by `persist`; every event names its own.
                repo.persist::<ServiceRequest>(&batch, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("appending generated events: {e}"))?;
                left -= n;
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_has_unit_events() {
        let cast = Cast {
            legal_entity: Uuid::new_v4(),
            patient: Uuid::new_v4(),
            patient_phone: "+380931234585",
            doctor_employee: Uuid::new_v4(),
            doctor_user: Uuid::new_v4(),
            specialist_user: Uuid::new_v4(),
            requisition: "0000-1234-5678-AX",
        };
        let events: usize = cast.unit().iter().map(Vec::len).sum();
        assert_eq!(events as u64, UNIT);
    }
}
