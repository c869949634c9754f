//! The data set the load runs on: one legal entity, a doctor and a specialist, one patient, and
//! fresh entities for every one-shot action (a service request can be released once, a dispense
//! stopped once…), plus entities whose action breaks a rule (to measure the spec's 409s).

use std::sync::Arc;

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

pub const LE: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_1001);
pub const U_DOCTOR: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_2001);
pub const E_DOCTOR: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_3001);
pub const U_SPECIALIST: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_2002);
pub const E_SPECIALIST: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_3002);
pub const PATIENT: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_4001);
pub const DOCTOR_TAX_ID: &str = "1234567890";

/// The kinds of entity, each in its own id range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// active, in_queue, used by LE: releasable once.
    QueuedServiceRequest = 1,
    /// active: recallable once.
    ActiveServiceRequest = 2,
    /// program_processing_status new: a release answers 409.
    NewServiceRequest = 3,
    InProgressDispense = 4,
    /// completed: a stop answers 409.
    CompletedDispense = 5,
    NewMergeRequest = 6,
    /// new approvals: resendable any number of times.
    Approval = 7,
}

/// Index of the first of the two dispenses the hot-entity case contends on.
pub const HOT_DISPENSE: usize = 1_000_000;

pub fn id(kind: Kind, n: usize) -> Uuid {
    Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_0000 | ((kind as u128) << 40) | n as u128)
}

/// How many entities of each kind.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub per_action: usize,
    pub recalls: usize,
    pub approvals: usize,
    pub violations: usize,
}

fn service_request(id: Uuid, extra: Value) -> Value {
    let mut sr = json!({
        "id": id, "patient_id": PATIENT, "status": "active", "intent": "order",
        "requester_employee": E_DOCTOR, "requester_legal_entity": LE,
        "requisition": "BENCH-0001", "note": null,
        "inserted_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        sr[k] = v.clone();
    }
    sr
}

fn reference() -> Value {
    json!({
        "config": { "me_allowed_transactions_le_types": ["PRIMARY_CARE", "OUTPATIENT", "EMERGENCY"] },
        "dictionaries": { "eHealth/service_request_recall_reasons": ["1", "2"] },
        "legal_entities": [ { "id": LE, "type": "OUTPATIENT", "status": "ACTIVE", "nhs_verified": true } ],
        "parties": [
            { "id": Uuid::from_u128(1), "tax_id": DOCTOR_TAX_ID },
            { "id": Uuid::from_u128(2), "tax_id": "2222222222" }
        ],
        "users": [ { "id": U_DOCTOR, "party_id": Uuid::from_u128(1) }, { "id": U_SPECIALIST, "party_id": Uuid::from_u128(2) } ],
        "employees": [
            { "id": E_DOCTOR, "party_id": Uuid::from_u128(1), "legal_entity_id": LE, "employee_type": "DOCTOR", "status": "APPROVED" },
            { "id": E_SPECIALIST, "party_id": Uuid::from_u128(2), "legal_entity_id": LE, "employee_type": "SPECIALIST", "status": "APPROVED" }
        ],
        "persons": [ { "id": PATIENT, "status": "active", "authentication_methods": [ { "type": "OTP", "phone_number": "+380931234585" } ] } ]
    })
}

/// Every entity of the data set as import-file objects, by list name.
fn entities(sizes: Sizes) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for n in 0..sizes.per_action {
        out.push((
            "service_requests",
            service_request(
                id(Kind::QueuedServiceRequest, n),
                json!({ "program_processing_status": "in_queue", "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE }),
            ),
        ));
        out.push((
            "device_dispenses",
            json!({ "id": id(Kind::InProgressDispense, n), "patient_id": PATIENT, "status": "in_progress", "performer_legal_entity": LE }),
        ));
        out.push((
            "merge_requests",
            json!({ "id": id(Kind::NewMergeRequest, n), "master_person_id": PATIENT, "merge_person_id": Uuid::from_u128(9),
                    "status": "NEW", "legal_entity_id": LE, "inserted_by": U_SPECIALIST, "inserted_at": "2026-01-01T00:00:00Z" }),
        ));
    }
    for n in 0..sizes.recalls {
        out.push((
            "service_requests",
            service_request(id(Kind::ActiveServiceRequest, n), json!({})),
        ));
    }
    for n in 0..sizes.violations {
        out.push((
            "service_requests",
            service_request(
                id(Kind::NewServiceRequest, n),
                json!({ "program_processing_status": "new" }),
            ),
        ));
        out.push((
            "device_dispenses",
            json!({ "id": id(Kind::CompletedDispense, n), "patient_id": PATIENT, "status": "completed", "performer_legal_entity": LE }),
        ));
    }
    // The hot-entity case stops these two dispenses from every client at once.
    for n in [HOT_DISPENSE, HOT_DISPENSE + 1] {
        out.push((
            "device_dispenses",
            json!({ "id": id(Kind::InProgressDispense, n), "patient_id": PATIENT, "status": "in_progress", "performer_legal_entity": LE }),
        ));
    }
    for n in 0..sizes.approvals {
        out.push((
            "approvals",
            json!({ "id": id(Kind::Approval, n), "patient_id": PATIENT, "status": "new", "granted_to": E_DOCTOR, "legal_entity_id": LE }),
        ));
    }
    out
}

/// Imports the data set through the real import (entities are created by commands, so they are
/// in the event log), in `parallel` concurrent slices. Returns how many entities were created.
pub async fn import(pool: &PgPool, sizes: Sizes, parallel: usize) -> anyhow::Result<usize> {
    let bus = Arc::new(ehealth_es::commands::CommandBus::new(
        pool.clone(),
        Arc::new(tokio::sync::Notify::new()),
    ));
    ehealth_es::import::import(&pool.clone().into(), &bus, &reference()).await?;
    let all = entities(sizes);
    let total = all.len();
    let chunk = total.div_ceil(parallel.max(1)).max(1);
    let mut tasks = Vec::new();
    for slice in all.chunks(chunk) {
        let mut file = json!({});
        for (list, entity) in slice {
            file.as_object_mut()
                .expect("object")
                .entry(*list)
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .expect("array")
                .push(entity.clone());
        }
        let (pool, bus) = (pool.clone(), bus.clone());
        tasks.push(tokio::spawn(async move {
            ehealth_es::import::import(&pool.clone().into(), &bus, &file).await
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += t.await??.created;
    }
    Ok(created.min(total))
}
