//! The rules after the signature: who may recall (employee, legal entity of the requester), the
//! status, the reason, and the signed content against the stored service request.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{pki, TestApp};
use crate::*;

async fn send(
    app: &TestApp,
    token: &str,
    patient: Uuid,
    id: Uuid,
    content: &Value,
) -> crate::support::Reply {
    let signed = sign_json(&pki().doctor, content);
    app.recall(patient, id, &body_of(&signed), token).await
}

const NOT_IN_MSP: &str = "Employees related to this party_id not in current MSP";
const NOT_THE_REQUESTER: &str =
    "Only an employee from legal entity where service request is created can recall service request";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_by_someone_other_than_the_requester_or_of_a_completed_service_request_answers_409()
{
    let app = TestApp::spawn().await;
    let cases = [
        // Signed by the requester doctor, sent by someone else of the same legal entity.
        (
            "by a specialist who is not the requester",
            U_SPECIALIST,
            SR_ACTIVE,
            NOT_IN_MSP,
        ),
        (
            "by a dismissed employee",
            U_DISMISSED,
            SR_ACTIVE,
            NOT_IN_MSP,
        ),
        (
            "of a service request only used by the caller's legal entity",
            U_DOCTOR,
            SR_USED_BY_MAIN,
            NOT_THE_REQUESTER,
        ),
        (
            "of a completed service request",
            U_DOCTOR,
            SR_COMPLETED,
            "Service request in status completed cannot be recalled",
        ),
    ];

    for (case, user, id, message) in cases {
        let content = with_reason(
            rendering(&app, &doctor_token(&app), P_OTP, id).await,
            reason(),
        );
        let token = app.token(user, LE_MAIN, ALL_SCOPES);
        let reply = send(&app, &token, P_OTP, id, &content).await;
        reply.assert_case_error(case, (409, "request_conflict", message));
        assert_untouched(&app, id).await;
    }
    assert_eq!(
        app.current("service_requests", SR_COMPLETED).await.unwrap()["status"],
        "completed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_recall_of_a_recalled_service_request_answers_409_and_appends_nothing() {
    let (app, token) = doctor_app().await;
    let (first, signed) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    recall_and_wait(&app, &token, P_OTP, SR_ACTIVE, &first).await;
    let sms = app.settled_sms(1).await;
    assert_eq!(sms.len(), 1);

    // A fresh rendering of the recalled service request, with a reason, properly signed.
    let content = with_reason(rendering(&app, &token, P_OTP, SR_ACTIVE).await, reason());
    assert_eq!(content["status"], "recalled");
    let reply = send(&app, &token, P_OTP, SR_ACTIVE, &content).await;

    reply.assert_error(409, "request_conflict", &cannot_be_recalled("recalled"));
    assert_eq!(app.log(SR_ACTIVE).await.len(), 2);
    assert_eq!(app.job_count().await, 1);
    app.workers_idle().await;
    assert_eq!(app.sms().await.len(), 1);
    assert_envelope_stored(&app, "the recall", &signed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_signed_content_has_no_usable_reason_answers_422_from_the_schema() {
    let (app, token) = doctor_app().await;
    let rendered = rendering(&app, &token, P_OTP, SR_ACTIVE).await;
    assert!(rendered["status_reason"].is_null(), "{rendered:#}");
    let mut removed = rendered.clone();
    removed.as_object_mut().unwrap().remove("status_reason");
    let cases = [
        (
            "status_reason removed",
            removed,
            "$.status_reason",
            "required",
            "required property status_reason was not present",
            json!([]),
        ),
        (
            "status_reason null, as rendered",
            rendered.clone(),
            "$.status_reason",
            "cast",
            "type mismatch. Expected Object but got Null",
            json!(["object"]),
        ),
        (
            "empty coding",
            with_reason(rendered.clone(), json!({ "coding": [] })),
            "$.status_reason.coding",
            "length",
            "expected a minimum of 1 items but got 0",
            json!({ "min": 1 }),
        ),
        (
            "no coding",
            with_reason(rendered.clone(), json!({ "text": "1" })),
            "$.status_reason.coding",
            "required",
            "required property coding was not present",
            json!([]),
        ),
    ];

    for (what, content, entry, rule, message, params) in cases {
        let reply = send(&app, &token, P_OTP, SR_ACTIVE, &content).await;
        assert_violation(&reply, what, entry, rule, message, params);
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_with_a_reason_outside_the_dictionary_answers_422_value_not_allowed_in_enum() {
    let (app, token) = doctor_app().await;
    let rendered = rendering(&app, &token, P_OTP, SR_ACTIVE).await;
    let message = "value is not allowed in enum";
    let cases = [
        (
            "unknown code",
            json!({ "coding": [ { "system": RECALL_REASONS_SYSTEM, "code": "9" } ] }),
            "$.status_reason.coding.[0].code",
            json!(["1", "2"]),
        ),
        (
            "second coding has an unknown code",
            json!({ "coding": [
                { "system": RECALL_REASONS_SYSTEM, "code": "2" },
                { "system": RECALL_REASONS_SYSTEM, "code": "autoexpired" }
            ] }),
            "$.status_reason.coding.[1].code",
            json!(["1", "2"]),
        ),
        (
            "wrong system",
            json!({ "coding": [ { "system": "eHealth/service_request_cancel_reasons", "code": "1" } ] }),
            "$.status_reason.coding.[0].system",
            json!([RECALL_REASONS_SYSTEM]),
        ),
        (
            "no system",
            json!({ "coding": [ { "code": "1" } ] }),
            "$.status_reason.coding.[0].system",
            json!([RECALL_REASONS_SYSTEM]),
        ),
    ];

    for (what, reason, entry, params) in cases {
        let content = with_reason(rendered.clone(), reason);
        let reply = send(&app, &token, P_OTP, SR_ACTIVE, &content).await;
        assert_violation(&reply, what, entry, "inclusion", message, params);
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_signed_content_names_another_service_request_answers_422_id_mismatch() {
    let (app, token) = doctor_app().await;
    // Both are visible to LE_MAIN, requested by the doctor, and active.
    let content = with_reason(rendering(&app, &token, P_OTP, SR_ACTIVE).await, reason());

    let reply = send(&app, &token, P_OTP, SR_PERFORMER, &content).await;

    let message = "Signed content id does not match the service request in the URL";
    assert_signed_data_refused(&reply, "another id", message);
    assert_untouched(&app, SR_PERFORMER).await;
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_signed_content_differs_from_the_stored_service_request_answers_422() {
    let (app, token) = doctor_app().await;
    let rendered = with_reason(rendering(&app, &token, P_OTP, SR_ACTIVE).await, reason());
    assert!(rendered
        .get("patient_instruction")
        .is_some_and(Value::is_null));
    let mut note = rendered.clone();
    note["note"] = json!("Інша консультація");
    let mut priority_nulled = rendered.clone();
    priority_nulled["priority"] = json!(null);
    let mut extra = rendered.clone();
    extra["performer"] = json!(null);
    let mut history = rendered.clone();
    history["status_history"] = json!([{ "status": "active", "status_reason": null, "inserted_at": "2024-05-01T10:00:00Z", "inserted_by": U_DOCTOR }]);
    let cases = [
        ("note changed", note),
        ("priority made null", priority_nulled),
        ("an extra null key", extra),
        ("status_history changed", history),
    ];
    let message = "Signed content doesn't match with previously created service request";

    for (what, content) in cases {
        let reply = send(&app, &token, P_OTP, SR_ACTIVE, &content).await;
        assert_signed_data_refused(&reply, what, message);
    }
    assert_untouched(&app, SR_ACTIVE).await;
}
