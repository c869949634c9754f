//! Reject merge request: `PATCH /api/merge_requests/{id}/actions/reject` (scope
//! `merge_request:write`, sync 200 with the entity).

use uuid::Uuid;

use crate::support::world::*;
use crate::support::{paths, Reply, TestApp};

/// Rejects `id` (in status `from`) as `user` of LE_MAIN on an app of its own; asserts the 200
/// with the rejected entity, the whole stored state, and that the read endpoint shows what the
/// action answered. Answers the reply.
async fn rejected_by(user: Uuid, id: Uuid, from: &str) -> Reply {
    let app = TestApp::spawn().await;
    let token = app.token(user, LE_MAIN, ALL_SCOPES);
    let reply = app.reject_merge_request(id, &token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["id"], id.to_string());
    assert_eq!(reply.data()["status"], "REJECTED");
    assert_eq!(reply.data()["updated_by"], user.to_string());

    let event = app
        .assert_one_event_appended(id, "MergeRequestRejected", user, LE_MAIN)
        .await;
    assert_eq!(
        event["payload"]["MergeRequestRejected"]["by"],
        user.to_string()
    );

    let row = app
        .current("merge_requests", id)
        .await
        .expect("current row");
    assert_eq!(row["status"], "REJECTED");
    assert_eq!(row["updated_by"], user.to_string());
    assert_eq!(row["legal_entity_id"], LE_MAIN.to_string());
    assert_eq!(row["version"], 2);

    let history = app
        .assert_status_changed(id, "MergeRequest", ("status", from, "REJECTED"), user)
        .await;
    assert_eq!(history.len(), 2, "{history:#?}");
    assert_eq!(history[0]["new_value"], from);

    // Reject is sync: no job is made.
    assert_eq!(app.job_count().await, 0);

    let shown = app.merge_request(id, &token).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.data()["status"], "REJECTED");
    assert_eq!(shown.data(), reply.data());
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_of_a_new_merge_request_by_its_author_answers_200_with_the_rejected_entity() {
    let reply = rejected_by(U_SPECIALIST, MR_NEW, "NEW").await;

    assert_eq!(reply.body["meta"]["code"], 200);
    assert_eq!(reply.body["meta"]["type"], "object");
    assert!(reply.body["meta"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&paths::reject(MR_NEW)));
    let data = reply.data();
    assert_eq!(data["master_person_id"], P_OTP.to_string());
    assert_eq!(data["merge_person_id"], P_UNKNOWN.to_string());
    assert_eq!(data["inserted_by"], U_SPECIALIST.to_string());
    assert_eq!(data["inserted_at"], "2024-04-20T19:14:13Z");
    assert_ne!(data["updated_at"], data["inserted_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_of_an_approved_merge_request_answers_200_and_records_approved_to_rejected() {
    rejected_by(U_SPECIALIST, MR_APPROVED, "APPROVED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_by_a_receptionist_of_their_own_merge_request_answers_200() {
    rejected_by(U_RECEPTIONIST, MR_BY_RECEPTIONIST, "NEW").await;
}

/// MR_NEW was rejected exactly once: two events, one feed record, two status history rows,
/// version 2.
async fn assert_new_rejected_once(app: &TestApp) {
    assert_eq!(app.log(MR_NEW).await.len(), 2);
    assert_eq!(app.feed(MR_NEW).await.len(), 1);
    assert_eq!(app.status_history(MR_NEW).await.len(), 2);
    assert_eq!(
        app.current_value("merge_requests", MR_NEW, "version").await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_the_same_merge_request_twice_answers_409_the_second_time() {
    let (app, token) = TestApp::spawn_for(U_SPECIALIST, LE_MAIN).await;

    let first = app.reject_merge_request(MR_NEW, &token).await;
    assert_eq!(first.status, 200, "{:#}", first.body);
    let second = app.reject_merge_request(MR_NEW, &token).await;

    second.assert_conflict("Invalid merge request status");
    assert_new_rejected_once(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_request_of_another_legal_entity_is_not_visible_to_the_caller() {
    let (app, token) = TestApp::spawn_for(U_SPECIALIST, LE_MAIN).await;
    let reply = app.merge_request(MR_OTHER_LE, &token).await;
    reply.assert_error(404, "not_found", "Merge request not found");

    // The legal entity where it was created does see it.
    let token = app.token(U_SPECIALIST, LE_OTHER, ALL_SCOPES);
    let reply = app.merge_request(MR_OTHER_LE, &token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["id"], MR_OTHER_LE.to_string());
    assert_eq!(reply.data()["status"], "NEW");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reject_retried_with_the_same_idempotency_key_answers_the_first_200_and_appends_nothing()
{
    let (app, token) = TestApp::spawn_for(U_SPECIALIST, LE_MAIN).await;
    let key = "reject-mr-new-1";

    let reject = app
        .reject_merge_request(MR_NEW, &token)
        .idempotency_key(key);
    let first = reject.clone().await;
    let retry = reject.await;

    assert_eq!(first.status, 200, "{:#}", first.body);
    assert_eq!(retry.status, 200, "{:#}", retry.body);
    assert_eq!(retry.data(), first.data());
    assert_new_rejected_once(&app).await;

    // The same key for another request is refused, and that request is not executed.
    let other = app
        .reject_merge_request(MR_APPROVED, &token)
        .idempotency_key(key)
        .await;
    other.assert_error(
        422,
        "validation_failed",
        "Idempotency-Key has already been used for a different request",
    );
    assert_eq!(app.log(MR_APPROVED).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rejects_of_one_merge_request_let_exactly_one_win() {
    let (app, token) = TestApp::spawn_for(U_SPECIALIST, LE_MAIN).await;

    let [a, b] = app
        .race_two(|_| app.reject_merge_request(MR_NEW, &token))
        .await;

    let (won, lost) = if a.status == 200 { (a, b) } else { (b, a) };
    assert_eq!(won.status, 200, "{:#}", won.body);
    assert_eq!(won.data()["status"], "REJECTED");
    lost.assert_conflict("Invalid merge request status");
    assert_new_rejected_once(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rejects_with_the_same_idempotency_key_both_answer_the_first_200() {
    let (app, token) = TestApp::spawn_for(U_SPECIALIST, LE_MAIN).await;
    let reject = app
        .reject_merge_request(MR_NEW, &token)
        .idempotency_key("reject-mr-new-race");

    let [a, b] = app.race_twice(reject).await;

    assert_eq!(a.status, 200, "{:#}", a.body);
    assert_eq!(b.status, 200, "{:#}", b.body);
    assert_eq!(a.data(), b.data());
    assert_new_rejected_once(&app).await;
}
