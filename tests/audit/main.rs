//! Black-box tests of the auditor read side (see tests/support): the Event
//! Manager API (`GET /api/events`, `GET /api/events/{id}`), the history of each entity
//! (`GET …/{id}/history`) and time travel (`?as_of=` / `?version=` on the entity read endpoints).
//! The state they read is made by real actions through the HTTP API, never by writing tables.

#[path = "../support/mod.rs"]
mod support;

mod event_queries;
mod events;
mod events_access;
mod history;
mod time_travel;

use uuid::Uuid;

use support::world::*;
use support::{Reply, TestApp};

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

pub use support::paths::{approval, device_dispense, merge_request, service_request};

/// Waits until the job a 202 names has finished (so its effects are in the log) and checks it
/// was processed; answers the 202.
pub async fn processed(app: &TestApp, token: &str, accepted: Reply) -> Reply {
    let job = app.wait_job(&accepted.job_href(), token).await;
    assert_eq!(job.data()["status"], "processed", "{:#}", job.body);
    accepted
}

pub async fn release(app: &TestApp, token: &str, id: Uuid) -> Reply {
    processed(app, token, app.release(id, token).await).await
}

pub async fn stop(app: &TestApp, token: &str, patient: Uuid, id: Uuid) -> Reply {
    processed(
        app,
        token,
        app.stop_device_dispense(patient, id, token).await,
    )
    .await
}

pub async fn resend(app: &TestApp, token: &str, patient: Uuid, id: Uuid) -> Reply {
    processed(app, token, app.resend_otp(patient, id, token).await).await
}

pub async fn reject(app: &TestApp, token: &str, id: Uuid) -> Reply {
    let reply = app.reject_merge_request(id, token).await;
    assert_eq!(reply.status, 200, "reject: {:#}", reply.body);
    reply
}

/// Recalls a service request as the doctor (a real signature over its current rendering) and
/// waits until the worker has revoked the approvals made for it.
pub async fn recall(app: &TestApp, token: &str, patient: Uuid, id: Uuid) -> Reply {
    let body = app.doctor_recall_body(patient, id, "1").await;
    processed(app, token, app.recall(patient, id, &body, token).await).await
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

/// A service after `busy_day`, and the doctor's token: what most Event Manager tests read.
pub async fn after_busy_day() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    busy_day(&app).await;
    let token = doctor(&app);
    (app, token)
}
