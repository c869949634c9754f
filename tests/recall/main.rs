//! Black-box tests of Recall Service Request:
//! `PATCH /api/patients/{patient_id}/service_requests/{id}/actions/recall` (scope
//! `service_request:recall`, async), with real CMS signatures (see tests/support).
//!
//! Every refusal is checked twice: the answer (status, `error.type`, message, `invalid[]`) and the
//! stored state afterwards (no event, no job, no SMS, nothing in media storage).

#[path = "../support/mod.rs"]
mod support;

mod access;
mod body;
mod caller;
mod care_plan;
mod content_schema;
mod effects;
mod idempotency;
mod qualified;
mod rules;
mod seal;
mod signature;
mod signature_service;
mod success;

use serde_json::{json, Value};
use uuid::Uuid;

pub use support::paths;
use support::world::*;
use support::{pki, Reply, TestApp};

pub const RECALL_REASONS_SYSTEM: &str = "eHealth/service_request_recall_reasons";

/// The recall reason every valid recall in these tests carries.
pub fn reason() -> Value {
    json!({ "coding": [ { "system": RECALL_REASONS_SYSTEM, "code": "1" } ] })
}

pub fn doctor_token(app: &TestApp) -> String {
    app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES)
}

/// The service request as the read endpoint renders it (`data`): what a client signs.
pub async fn rendering(app: &TestApp, token: &str, patient: Uuid, id: Uuid) -> Value {
    app.service_request(patient, id, token).await.ok().clone()
}

/// `doc` with `status_reason` set to `reason`.
pub fn with_reason(mut doc: Value, reason: Value) -> Value {
    doc["status_reason"] = reason;
    doc
}

/// The signed_data string of `content` signed by `signer`.
pub fn sign_json(signer: &pki::TestSigner, content: &Value) -> String {
    signer.sign(&serde_json::to_vec(content).expect("content serializes"))
}

pub fn body_of(signed_data: &str) -> Value {
    json!({ "signed_data": signed_data })
}

/// A valid recall of `id` by the doctor: the current rendering plus the reason, signed by the
/// doctor. Returns the request body and the signed_data string in it.
pub async fn doctor_recall(app: &TestApp, patient: Uuid, id: Uuid) -> (Value, String) {
    let token = doctor_token(app);
    let content = with_reason(rendering(app, &token, patient, id).await, reason());
    let signed = sign_json(&pki().doctor, &content);
    (body_of(&signed), signed)
}

/// A refused recall left `id` as imported: one event, still active, no job, no SMS, no media file.
pub async fn assert_untouched(app: &TestApp, id: Uuid) {
    let events = app.log(id).await;
    assert_eq!(events.len(), 1, "events of {id}: {events:#?}");
    let row = app.current("service_requests", id).await.expect("row");
    assert_eq!(row["version"], 1, "{row:#}");
    assert_eq!(row["status_reason"], Value::Null, "{row:#}");
    assert_eq!(app.job_count().await, 0, "no job is created");
    app.workers_idle().await;
    assert!(app.sms().await.is_empty(), "no SMS is queued");
    assert!(
        app.media_files().is_empty(),
        "nothing is written to media storage: {:?}",
        app.media_files()
    );
    for approval in [AP_SR_1, AP_SR_2, AP_SR_3] {
        assert_eq!(app.log(approval).await.len(), 1, "approval {approval}");
    }
}

/// Asserts a 422 `validation_failed` whose message is `description` and whose `error.invalid` is
/// exactly one entry with that one rule; `case` names the failure.
#[track_caller]
pub fn assert_violation(
    reply: &Reply,
    case: &str,
    entry: &str,
    rule: &str,
    description: &str,
    params: Value,
) {
    reply.assert_case_error(case, (422, "validation_failed", description));
    reply.assert_invalid(json!([{
        "entry_type": "json_data_property",
        "entry": entry,
        "rules": [ { "rule": rule, "description": description, "params": params } ]
    }]));
}

/// eHealth's refusal of a recall of a service request whose status is `status`.
pub fn cannot_be_recalled(status: &str) -> String {
    format!("Service request in status {status} cannot be recalled")
}

/// [`Reply::assert_case_error`] for a refusal that is not a validation failure: it has no
/// `invalid[]`.
#[track_caller]
pub fn assert_case_refused(reply: &Reply, case: &str, error: (u16, &str, &str)) {
    reply.assert_case_error(case, error);
    let invalid = &reply.body["error"]["invalid"];
    assert!(invalid.is_null(), "{case}: invalid[] of {:#}", reply.body);
}

/// Sends `body` as the recall of `id` (patient P_OTP) and asserts it is refused with `error` and
/// changed nothing; answers the refusal for further checks.
pub async fn assert_recall_refused(
    app: &TestApp,
    token: &str,
    id: Uuid,
    body: &Value,
    (status, kind, message): (u16, &str, &str),
) -> Reply {
    let reply = app.recall(P_OTP, id, body, token).await;
    reply.assert_error(status, kind, message);
    assert_untouched(app, id).await;
    reply
}

/// Asserts the 422 eHealth answers for a `signed_data` it refuses: `message`, at `$.signed_data`.
#[track_caller]
pub fn assert_signed_data_refused(reply: &Reply, case: &str, message: &str) {
    assert_violation(reply, case, "$.signed_data", "invalid", message, json!([]));
}

/// A recall of SR_ACTIVE by the doctor with `signed` is refused with 422 `message` at
/// `$.signed_data`, and nothing changed.
pub async fn assert_signed_refused(app: &TestApp, signed: &str, message: &str) {
    let token = doctor_token(app);
    let reply = app.recall(P_OTP, SR_ACTIVE, &body_of(signed), &token).await;
    assert_signed_data_refused(&reply, "a recall of SR_ACTIVE", message);
    assert_untouched(app, SR_ACTIVE).await;
}

/// Asserts media storage holds one file, the envelope `signed` exactly as received.
#[track_caller]
pub fn assert_envelope_stored(app: &TestApp, case: &str, signed: &str) {
    let files = app.media_files();
    assert_eq!(files.len(), 1, "{case}: {files:?}");
    let stored = std::fs::read_to_string(&files[0]).expect("a readable file");
    assert_eq!(stored, signed, "{case}: the stored envelope");
}

/// Sends a recall and waits for its job to be processed; returns the job's href.
pub async fn recall_and_wait(
    app: &TestApp,
    token: &str,
    patient: Uuid,
    id: Uuid,
    body: &Value,
) -> String {
    let reply = app.recall(patient, id, body, token).await;
    let href = reply.job_href();
    let job = app.wait_job(&href, token).await;
    assert_eq!(job.status, 303, "job of {id}: {:#}", job.body);
    assert_eq!(job.data()["status"], "processed", "{:#}", job.body);
    href
}
