//! Black-box fault tests that run in CI: the ordered feed under out-of-order commits (two
//! transactions opened by hand), N concurrent conflicting actions on one entity, and bad input of
//! every kind — each refused with a clear 4xx in eHealth's envelope, never a 5xx or a panic.
//!
//! The process-level faults (SIGKILL, a PostgreSQL restart, two instances) need a server of their
//! own and live in `ehealth-faults` (`scripts/faults.sh`).

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod concurrency;
mod feed;
mod full_volume;
mod http;
mod link;
mod odd_bytes;
mod outage;

use serde_json::{json, Value};
use support::world::*;
use uuid::Uuid;

/// `n` service requests in queue for LE_MAIN, each to be released once.
fn queued(n: usize) -> (Value, Vec<Uuid>) {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    let service_requests: Vec<Value> = ids
        .iter()
        .map(|id| {
            json!({
                "id": id, "patient_id": P_OTP, "status": "active", "intent": "order",
                "program_processing_status": "in_queue", "expiration_date": "2099-01-01T00:00:00Z",
                "requester_employee": E_DOCTOR, "requester_legal_entity": LE_MAIN,
                "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE_MAIN
            })
        })
        .collect();
    (json!({ "service_requests": service_requests }), ids)
}
