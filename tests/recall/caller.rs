//! Who asks and for whom: the caller's party (403), the patient (404, 409), the legal entity that
//! requested the service request (409, never a 404 for one that exists), and the care-plan
//! alternative to being the requester employee.

use serde_json::json;
use uuid::Uuid;

use crate::support::world::*;
use crate::support::TestApp;
use crate::*;

const NOT_THE_REQUESTER: &str =
    "Only an employee from legal entity where service request is created can recall service request";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_by_a_caller_who_may_not_or_for_a_patient_who_may_not_be_served_is_refused() {
    let app = TestApp::spawn().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let doctor = doctor_token(&app);
    let cases = [
        (
            "a user whose party is not verified: 403",
            app.token(U_UNVERIFIED_PARTY, LE_MAIN, ALL_SCOPES),
            paths::recall(P_OTP, SR_ACTIVE),
            (403, "forbidden", "Access denied. Party is not verified"),
        ),
        (
            "a user whose party has died: 403",
            app.token(U_DECEASED_PARTY, LE_MAIN, ALL_SCOPES),
            paths::recall(P_OTP, SR_ACTIVE),
            (403, "forbidden", "Access denied. Party is deceased"),
        ),
        (
            "an unknown patient: 404",
            doctor.clone(),
            paths::recall(P_UNKNOWN, SR_ACTIVE),
            (404, "not_found", "Person not found"),
        ),
        (
            "a patient id that is not a uuid: 404",
            doctor.clone(),
            format!("/api/patients/nobody/service_requests/{SR_ACTIVE}/actions/recall"),
            (404, "not_found", "Person not found"),
        ),
        (
            "an inactive patient: 409",
            doctor.clone(),
            paths::recall(P_INACTIVE, Uuid::new_v4()),
            (409, "request_conflict", "Person is not active"),
        ),
        // A legal entity that did not request the service request: 409, not 404. LE_OTHER
        // neither requested nor uses SR_ACTIVE; LE_MAIN did not request SR_OTHER_LE.
        (
            "LE_OTHER for SR_ACTIVE: 409",
            app.token(U_OTHER, LE_OTHER, ALL_SCOPES),
            paths::recall(P_OTP, SR_ACTIVE),
            (409, "request_conflict", NOT_THE_REQUESTER),
        ),
        (
            "LE_MAIN for SR_OTHER_LE: 409",
            doctor.clone(),
            paths::recall(P_OTP, SR_OTHER_LE),
            (409, "request_conflict", NOT_THE_REQUESTER),
        ),
    ];

    for (case, token, path, error) in cases {
        let reply = app.patch(&path, Some(&token), Some(&body)).await;
        assert_case_refused(&reply, case, error);
    }
    assert_untouched(&app, SR_ACTIVE).await;
    assert_untouched(&app, SR_OTHER_LE).await;
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

    let not_in_msp = "Employees related to this party_id not in current MSP";
    assert_recall_refused(
        &app,
        &token,
        SR_OTHER_CARE_PLAN,
        &body,
        (409, "request_conflict", not_in_msp),
    )
    .await;
    let shown = app.service_request(P_OTP, SR_OTHER_CARE_PLAN, &token).await;
    assert_eq!(shown.data()["status"], json!("active"));
}
