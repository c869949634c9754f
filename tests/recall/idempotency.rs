//! `Idempotency-Key`: a retried recall answers the first 202 and appends nothing; the same key
//! with another request is refused.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{pki, Reply, TestApp};
use crate::*;

const KEY_REUSED: &str = "Idempotency-Key has already been used for a different request";

/// Sends the doctor's recall of `id` with `key` as its Idempotency-Key.
async fn recall_keyed(app: &TestApp, token: &str, id: Uuid, body: &Value, key: &str) -> Reply {
    app.recall(P_OTP, id, body, token)
        .idempotency_key(key)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_retried_with_the_same_idempotency_key_answers_the_first_202_and_appends_nothing() {
    let (app, token) = doctor_app().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let key = "recall-sr-active-1";

    let first = recall_keyed(&app, &token, SR_ACTIVE, &body, key).await;
    let href = first.job_href();
    app.wait_job(&href, &token).await;
    app.wait_sms_sent(1).await;

    let second = recall_keyed(&app, &token, SR_ACTIVE, &body, key).await;

    assert_eq!(second.status, 202, "{:#}", second.body);
    assert_eq!(second.data(), first.data());
    assert_eq!(second.job_href(), href);
    assert_eq!(app.log(SR_ACTIVE).await.len(), 2);
    assert_eq!(app.job_count().await, 1);
    app.workers_idle().await;
    assert_eq!(app.sms().await.len(), 1);
    assert_eq!(app.media_files().len(), 1);
    for approval in [AP_SR_1, AP_SR_2] {
        assert_eq!(app.log(approval).await.len(), 2, "{approval}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_reused_with_another_body_or_for_another_service_request_answers_422() {
    let (app, token) = doctor_app().await;
    let rendered = rendering(&app, &token, P_OTP, SR_ACTIVE).await;
    let other_reason = json!({ "coding": [ { "system": RECALL_REASONS_SYSTEM, "code": "2" } ] });
    let other_body = body_of(&sign_json(
        &pki().doctor,
        &with_reason(rendered, other_reason),
    ));
    let (first_body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let (other_service_request, _) = doctor_recall(&app, P_OTP, SR_PERFORMER).await;
    let key = "recall-shared-key";

    let first = recall_keyed(&app, &token, SR_ACTIVE, &first_body, key).await;
    app.wait_job(&first.job_href(), &token).await;

    for (case, id, body) in [
        ("another body", SR_ACTIVE, &other_body),
        (
            "another service request",
            SR_PERFORMER,
            &other_service_request,
        ),
    ] {
        let second = recall_keyed(&app, &token, id, body, key).await;
        assert_violation(
            &second,
            case,
            "$.headers.idempotency-key",
            "unique",
            KEY_REUSED,
            json!([]),
        );
        assert_eq!(app.log(SR_ACTIVE).await.len(), 2, "{case}");
        assert_eq!(app.job_count().await, 1, "{case}");
        // The key is looked up before anything is verified or stored: no file for the refusal.
        assert_eq!(app.media_files().len(), 1, "{case}");
    }
    assert_eq!(app.log(SR_PERFORMER).await.len(), 1);
    assert_eq!(
        app.current("service_requests", SR_PERFORMER).await.unwrap()["status"],
        "active"
    );
}
