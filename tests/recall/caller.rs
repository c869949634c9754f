//! Who asks and for whom: the caller's party (403), the patient (404, 409), the legal entity that
//! requested the service request (409, never a 404 for one that exists), and the care-plan
//! alternative to being the requester employee.

use serde_json::json;
use uuid::Uuid;

use crate::support::world::*;
use crate::support::TestApp;
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_by_a_user_whose_party_is_not_verified_answers_403() {
    let app = TestApp::spawn().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let token = app.token(U_UNVERIFIED_PARTY, LE_MAIN, ALL_SCOPES);

    let reply = app.recall(P_OTP, SR_ACTIVE, &body, &token).await;

    reply.assert_error(403, "forbidden", "Access denied. Party is not verified");
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_by_a_user_whose_party_has_died_answers_403() {
    let app = TestApp::spawn().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let token = app.token(U_DECEASED_PARTY, LE_MAIN, ALL_SCOPES);

    let reply = app.recall(P_OTP, SR_ACTIVE, &body, &token).await;

    reply.assert_error(403, "forbidden", "Access denied. Party is deceased");
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_by_a_user_whose_party_verification_is_pending_is_accepted() {
    let app = TestApp::spawn().await;
    app.import(&more_service_requests()).await;
    let token = app.token(U_PENDING_PARTY, LE_MAIN, ALL_SCOPES);
    let content = with_reason(
        rendering(&app, &token, P_OTP, SR_PENDING_PARTY).await,
        reason(),
    );
    let body = body_of(&sign_json(&pki().pending, &content));

    recall_and_wait(&app, &token, P_OTP, SR_PENDING_PARTY, &body).await;

    let row = app
        .current("service_requests", SR_PENDING_PARTY)
        .await
        .unwrap();
    assert_eq!(row["status"], "recalled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_for_an_unknown_patient_answers_404_person_not_found() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;

    for path in [
        paths::recall(P_UNKNOWN, SR_ACTIVE),
        format!("/api/patients/nobody/service_requests/{SR_ACTIVE}/actions/recall"),
    ] {
        let reply = app.patch(&path, Some(&token), Some(&body)).await;
        reply.assert_error(404, "not_found", "Person not found");
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_for_an_inactive_patient_answers_409_person_is_not_active() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;

    let reply = app.recall(P_INACTIVE, Uuid::new_v4(), &body, &token).await;

    reply.assert_error(409, "request_conflict", "Person is not active");
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_by_a_legal_entity_that_did_not_request_the_service_request_answers_409_not_404() {
    let app = TestApp::spawn().await;
    let expected = "Only an employee from legal entity where service request is created can recall service request";

    // LE_OTHER neither requested nor uses SR_ACTIVE.
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let other = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    let reply = app.recall(P_OTP, SR_ACTIVE, &body, &other).await;
    reply.assert_error(409, "request_conflict", expected);

    // LE_MAIN did not request SR_OTHER_LE (LE_OTHER did).
    let token = doctor_token(&app);
    let reply = app.recall(P_OTP, SR_OTHER_LE, &body, &token).await;
    reply.assert_error(409, "request_conflict", expected);
    assert!(reply.body["error"]["invalid"].is_null(), "{:#}", reply.body);

    assert_untouched(&app, SR_ACTIVE).await;
    assert_untouched(&app, SR_OTHER_LE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_by_a_holder_of_a_write_approval_on_the_care_plan_is_accepted() {
    let app = TestApp::spawn().await;
    app.import(&more_service_requests()).await;
    // U_DOCTOR is not the requester (E_DISMISSED is), but E_DOCTOR may write CP_WRITABLE.
    let token = doctor_token(&app);
    let content = with_reason(rendering(&app, &token, P_OTP, SR_CARE_PLAN).await, reason());
    let body = body_of(&sign_json(&pki().dismissed, &content));

    recall_and_wait(&app, &token, P_OTP, SR_CARE_PLAN, &body).await;

    let row = app.current("service_requests", SR_CARE_PLAN).await.unwrap();
    assert_eq!(row["status"], "recalled");
    let events = app.log(SR_CARE_PLAN).await;
    assert_eq!(events[1]["event_type"], "ServiceRequestRecalled");
    assert_eq!(events[1]["metadata"]["user_id"], U_DOCTOR.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_a_service_request_on_an_activity_by_a_writer_of_the_activitys_care_plan_is_accepted(
) {
    let app = TestApp::spawn().await;
    app.import(&more_service_requests()).await;
    let token = doctor_token(&app);
    let id = SR_ACTIVITY_OF_WRITABLE_PLAN;
    let content = with_reason(rendering(&app, &token, P_OTP, id).await, reason());
    let body = body_of(&sign_json(&pki().dismissed, &content));

    recall_and_wait(&app, &token, P_OTP, id, &body).await;

    let row = app.current("service_requests", id).await.unwrap();
    assert_eq!(row["status"], "recalled");
    // The give-back reached the activity too.
    let activity = app
        .current("care_plan_activities", CPA_WRITABLE)
        .await
        .unwrap();
    assert_eq!(activity["version"], 2, "{activity:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_a_care_plan_service_request_without_an_approval_on_that_plan_answers_409() {
    let app = TestApp::spawn().await;
    app.import(&more_service_requests()).await;
    let token = doctor_token(&app);
    let content = with_reason(
        rendering(&app, &token, P_OTP, SR_OTHER_CARE_PLAN).await,
        reason(),
    );
    let body = body_of(&sign_json(&pki().dismissed, &content));

    let reply = app.recall(P_OTP, SR_OTHER_CARE_PLAN, &body, &token).await;

    reply.assert_error(
        409,
        "request_conflict",
        "Employees related to this party_id not in current MSP",
    );
    assert_untouched(&app, SR_OTHER_CARE_PLAN).await;
    let shown = app.service_request(P_OTP, SR_OTHER_CARE_PLAN, &token).await;
    assert_eq!(shown.data()["status"], json!("active"));
}
