//! Black-box tests of the auditor read side on a real PostgreSQL (see tests/support): the Event
//! Manager API (`GET /api/events`, `GET /api/events/{id}`), the history of each entity
//! (`GET …/{id}/history`) and time travel (`?as_of=` / `?version=` on the entity read endpoints).
//! The state they read is made by real actions through the HTTP API, never by writing tables.

#[path = "../support/mod.rs"]
mod support;

mod events;
mod history;
mod time_travel;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use uuid::Uuid;

use support::world::*;
use support::{pki, Reply, TestApp};

/// Every scope of the service plus the Event Manager's.
pub fn audit_scopes() -> String {
    format!("{ALL_SCOPES} event:read")
}

pub fn doctor(app: &TestApp) -> String {
    app.token(U_DOCTOR, LE_MAIN, &audit_scopes())
}

pub fn other_doctor(app: &TestApp) -> String {
    app.token(U_OTHER, LE_OTHER, &audit_scopes())
}

pub fn service_request(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/service_requests/{id}")
}

pub fn merge_request(id: Uuid) -> String {
    format!("/api/merge_requests/{id}")
}

pub fn device_dispense(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/device_dispenses/{id}")
}

pub fn approval(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/approvals/{id}")
}

/// Runs an async action and waits until its job has finished (so its effects are in the log).
/// Waits longer than the harness's `wait_job`: `busy_day` runs five jobs back to back, and on a
/// loaded machine (parallel tests, parallel builds) a recall with its revocations can take seconds.
pub async fn act_and_wait(app: &TestApp, path: &str, token: &str, body: Option<&Value>) -> Reply {
    let reply = app.patch(path, Some(token), body).await;
    let href = reply.job_href();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = app.get(&href, Some(token)).await;
        if job.data()["status"] != "pending" {
            assert_eq!(
                job.data()["status"],
                "processed",
                "job of {path}: {:#}",
                job.body
            );
            return reply;
        }
        assert!(Instant::now() < deadline, "job of {path} still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn release(app: &TestApp, token: &str, id: Uuid) -> Reply {
    act_and_wait(
        app,
        &format!("/api/service_requests/{id}/actions/release"),
        token,
        None,
    )
    .await
}

pub async fn stop(app: &TestApp, token: &str, patient: Uuid, id: Uuid) -> Reply {
    act_and_wait(
        app,
        &format!("{}/actions/stop", device_dispense(patient, id)),
        token,
        None,
    )
    .await
}

pub async fn resend(app: &TestApp, token: &str, patient: Uuid, id: Uuid) -> Reply {
    act_and_wait(
        app,
        &format!("{}/actions/resend", approval(patient, id)),
        token,
        None,
    )
    .await
}

pub async fn reject(app: &TestApp, token: &str, id: Uuid) -> Reply {
    let reply = app
        .patch(
            &format!("/api/merge_requests/{id}/actions/reject"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "reject: {:#}", reply.body);
    reply
}

/// Recalls a service request as the doctor (a real signature over its current rendering) and
/// waits until the worker has revoked the approvals made for it.
pub async fn recall(app: &TestApp, token: &str, patient: Uuid, id: Uuid) -> Reply {
    let shown = app.get(&service_request(patient, id), Some(token)).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    let mut content = shown.data().clone();
    content["status_reason"] = json!({ "coding": [ {
        "system": "eHealth/service_request_recall_reasons", "code": "1" } ] });
    let signed = pki()
        .doctor
        .sign(&serde_json::to_vec(&content).expect("content"));
    act_and_wait(
        app,
        &format!("{}/actions/recall", service_request(patient, id)),
        token,
        Some(&json!({ "signed_data": signed })),
    )
    .await
}

/// A day of work for the Event Manager tests. LE_MAIN: release SR_QUEUED, reject MR_NEW, stop
/// DD_IN_PROGRESS, recall SR_ACTIVE (whose approvals AP_SR_1 and AP_SR_2 are then revoked by the
/// worker). LE_OTHER: stop DD_OTHER_LE. Six records are visible to LE_MAIN, one to LE_OTHER.
pub async fn busy_day(app: &TestApp) {
    let main = doctor(app);
    release(app, &main, SR_QUEUED).await;
    reject(app, &app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES), MR_NEW).await;
    stop(app, &main, P_OTP, DD_IN_PROGRESS).await;
    recall(app, &main, P_OTP, SR_ACTIVE).await;
    stop(app, &other_doctor(app), P_OTP, DD_OTHER_LE).await;
}
