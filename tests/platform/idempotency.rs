//! The `Idempotency-Key` header: a retried request answers what the first one answered and appends
//! nothing; the same key with another request is 422; keys are per user (and legal entity).

use serde_json::{json, Value};

use crate::harness::*;
use crate::support::world::*;
use crate::support::TestApp;

const KEY_REUSED: &str = "Idempotency-Key has already been used for a different request";

async fn released_events(app: &TestApp) -> usize {
    app.log(SR_QUEUED)
        .await
        .iter()
        .filter(|e| e["event_type"] == "ServiceRequestReleased")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_retried_with_the_same_key_answers_the_same_202_and_appends_once() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let key = "release-once";
    let release = app.release(SR_QUEUED, &token).idempotency_key(key);
    let first = release.clone().await;
    let href = first.job_href();
    let second = release.await;
    assert_eq!(second.status, 202, "{:#}", second.body);
    assert_eq!(second.data(), first.data(), "the same job, the same eta");
    assert_eq!(second.job_href(), href);

    assert_eq!(released_events(&app).await, 1);
    assert_eq!(app.log(SR_QUEUED).await.len(), 2);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
    assert_eq!(
        count(&app, "SELECT count(*) FROM processed_commands").await,
        1
    );
    let events = app.log(SR_QUEUED).await;
    assert_eq!(
        events[1]["metadata"]["command_id"],
        format!("{LE_MAIN}:{U_DOCTOR}:release-once")
    );
    // The job of the retry is the first one, and it completes.
    assert_eq!(app.wait_job(&href, &token).await.status, 303);

    // Without the key the same request is a new one, refused by the new state.
    let third = app.release(SR_QUEUED, &token).await;
    third.assert_conflict("Invalid program processing status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_for_another_url_answers_422_and_appends_nothing() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let key = "k-1";
    let first = app.release(SR_QUEUED, &token).idempotency_key(key).await;
    assert_eq!(first.status, 202, "{:#}", first.body);

    for path in [stop(P_OTP, DD_IN_PROGRESS), release(SR_USED_BY_MAIN)] {
        let reply = app
            .patch(&path, Some(&token), None)
            .idempotency_key(key)
            .await;
        reply.assert_error(422, "validation_failed", KEY_REUSED);
        assert_eq!(
            reply.body["error"]["invalid"],
            json!([{
                "entry_type": "json_data_property",
                "entry": "$.headers.idempotency-key",
                "rules": [ { "rule": "unique", "description": KEY_REUSED, "params": [] } ]
            }])
        );
    }
    assert_eq!(app.log(DD_IN_PROGRESS).await.len(), 1);
    assert_eq!(app.log(SR_USED_BY_MAIN).await.len(), 1);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reject_retried_with_the_same_key_answers_200_with_the_same_entity_and_appends_once() {
    let (app, token) = TestApp::spawn_for(U_SPECIALIST, LE_MAIN).await;
    let key = "reject-mr-new";
    let reject = app
        .reject_merge_request(MR_NEW, &token)
        .idempotency_key(key);
    let first = reject.clone().await;
    assert_eq!(first.status, 200, "{:#}", first.body);
    assert_eq!(first.data()["status"], "REJECTED");
    let second = reject.await;
    assert_eq!(second.status, 200, "{:#}", second.body);
    assert_eq!(second.data(), first.data());
    assert_eq!(second.body["meta"]["code"], 200);

    let events = app.log(MR_NEW).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(app.feed(MR_NEW).await.len(), 1);
    // Without the key, a second reject is refused by the state.
    let third = app.reject_merge_request(MR_NEW, &token).await;
    third.assert_conflict("Invalid merge request status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_retried_with_the_same_key_sends_one_sms() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let key = "resend-1";
    let resend = app.resend_otp(P_OTP, AP_OTP, &token).idempotency_key(key);
    let first = resend.clone().await;
    let href = first.job_href();
    let second = resend.await;
    assert_eq!(second.status, 202);
    assert_eq!(second.data(), first.data());
    assert_eq!(app.wait_job(&href, &token).await.status, 200);
    assert_eq!(app.log(AP_OTP).await.len(), 2);
    let sms = app.wait_sms_sent(1).await;
    app.workers_idle().await;
    assert_eq!(app.sms().await.len(), 1, "{sms:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_belongs_to_its_user_and_legal_entity() {
    let app = TestApp::spawn().await;
    let key = "shared-key";
    let specialist = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let reply = app
        .reject_merge_request(MR_NEW, &specialist)
        .idempotency_key(key)
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);

    // Another user, another entity, the same key: an independent request.
    let doctor = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let reply = app.release(SR_QUEUED, &doctor).idempotency_key(key).await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);
    assert_eq!(released_events(&app).await, 1);

    // The same user in another legal entity: independent as well.
    let elsewhere = app.token(U_DOCTOR, LE_OTHER, ALL_SCOPES);
    let reply = app
        .resend_otp(P_OTP, AP_OTHER_LE, &elsewhere)
        .idempotency_key(key)
        .await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);

    let ids: Vec<String> = app
        .strings("SELECT command_id FROM processed_commands ORDER BY created_at")
        .await;
    assert_eq!(
        ids,
        vec![
            format!("{LE_MAIN}:{U_SPECIALIST}:shared-key"),
            format!("{LE_MAIN}:{U_DOCTOR}:shared-key"),
            format!("{LE_OTHER}:{U_DOCTOR}:shared-key"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_longer_than_255_characters_answers_422() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let long = "k".repeat(256);
    let reply = app.release(SR_QUEUED, &token).idempotency_key(&long).await;
    reply.assert_error(
        422,
        "validation_failed",
        "Idempotency-Key must be at most 255 characters",
    );
    assert_eq!(reply.invalid_entries(), vec!["$.headers.idempotency-key"]);
    assert_eq!(app.log(SR_QUEUED).await.len(), 1);

    let ok = "k".repeat(255);
    let reply = app.release(SR_QUEUED, &token).idempotency_key(&ok).await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);
}

/// A client that times out and retries while its first request is still running must get the
/// first answer, not a refusal caused by its own first request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_the_same_key_all_answer_the_first_202() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let replies = app
        .concurrently(8, |_| {
            app.release(SR_QUEUED, &token).idempotency_key("same-retry")
        })
        .await;
    let mut answers: Vec<Value> = Vec::new();
    for reply in replies {
        assert_eq!(reply.status, 202, "{:#}", reply.body);
        answers.push(reply.data().clone());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:#?}");
    assert_eq!(released_events(&app).await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_retried_with_the_same_key_answers_the_same_202() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let body = recall_body(&app, "1").await;
    let key = "recall-1";
    let recall = app
        .recall(P_OTP, SR_ACTIVE, &body, &token)
        .idempotency_key(key);
    let href = recall.clone().await.job_href();
    let second = recall.await;
    assert_eq!(second.status, 202, "{:#}", second.body);
    assert_eq!(second.job_href(), href);
    assert_eq!(app.log(SR_ACTIVE).await.len(), 2);

    // The same key with another body is a different request.
    let other = recall_body(&app, "2").await;
    let third = app
        .recall(P_OTP, SR_ACTIVE, &other, &token)
        .idempotency_key(key)
        .await;
    third.assert_error(422, "validation_failed", KEY_REUSED);
}
