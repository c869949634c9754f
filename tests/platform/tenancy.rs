//! Tenancy: a legal entity (the token's `client_id`) sees and acts on its own entities and jobs
//! only. Another tenant gets the same 404 as for an id that does not exist, except where a spec
//! names another answer (a resend: 409 after the spec's own rules).

use crate::harness::*;
use crate::support::world::*;
use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_legal_entity_cannot_read_a_service_request_merge_request_dispense_or_approval() {
    let (app, main) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let other = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    for (path, not_found) in [
        (
            service_request(P_OTP, SR_ACTIVE),
            "Service request not found",
        ),
        (merge_request(MR_NEW), "Merge request not found"),
        (
            device_dispense(P_OTP, DD_IN_PROGRESS),
            "Device dispense not found",
        ),
        (
            approval(P_OTP, AP_OTP),
            "Approval with such id is not found",
        ),
    ] {
        let own = app.get(&path, Some(&main)).await;
        assert_eq!(own.status, 200, "{path} as LE_MAIN: {:#}", own.body);
        assert!(own.data()["id"].is_string(), "{:#}", own.body);

        let foreign = app.get(&path, Some(&other)).await;
        foreign.assert_error(404, "not_found", not_found);
        assert!(foreign.body.get("data").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_legal_entity_cannot_read_a_job_even_with_the_same_user() {
    let (app, main) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let href = app.release(SR_QUEUED, &main).await.job_href();
    let own = app.wait_job(&href, &main).await;
    assert_eq!(own.status, 303, "{:#}", own.body);

    for token in [
        app.token(U_OTHER, LE_OTHER, ALL_SCOPES),
        // Jobs belong to the legal entity, not to the user.
        app.token(U_DOCTOR, LE_OTHER, ALL_SCOPES),
    ] {
        let reply = app.get(&href, Some(&token)).await;
        reply.assert_error(404, "not_found", "Job not found");
        assert!(reply.headers.get("location").is_none());
    }
    // Another user of the same legal entity does see it.
    let colleague = app.token(U_SPECIALIST, LE_MAIN, "job:read");
    assert_eq!(app.get(&href, Some(&colleague)).await.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_legal_entity_cannot_stop_a_device_dispense_it_did_not_perform() {
    let (app, other) = TestApp::spawn_for(U_OTHER, LE_OTHER).await;
    let reply = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &other)
        .await;
    reply.assert_conflict("Device dispense belongs to another legal entity");
    assert_eq!(app.log(DD_IN_PROGRESS).await.len(), 1);
    assert_eq!(
        app.current("device_dispenses", DD_IN_PROGRESS)
            .await
            .unwrap()["status"],
        "in_progress"
    );
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_legal_entity_cannot_release_a_service_request_it_neither_requested_nor_uses() {
    let (app, other) = TestApp::spawn_for(U_OTHER, LE_OTHER).await;
    let reply = app.release(SR_QUEUED, &other).await;
    // It exists: the specification's rules pass, ours answers (never a 404 that hides them).
    reply.assert_conflict("Service request is used by another legal entity");
    assert_eq!(app.log(SR_QUEUED).await.len(), 1);
    let row = app.current("service_requests", SR_QUEUED).await.unwrap();
    assert_eq!(row["program_processing_status"], "in_queue");
    assert_eq!(row["used_by_legal_entity_id"], LE_MAIN.to_string());
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 0);
}

/// eHealth looks an approval up by patient and id only, so an approval that exists for the patient
/// is never a 404: ownership is the last rule, a 409 (tests/actions/resend.rs has the order).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_legal_entity_cannot_resend_the_code_of_an_approval_it_does_not_own() {
    let (app, other) = TestApp::spawn_for(U_OTHER, LE_OTHER).await;
    let reply = app.resend_otp(P_OTP, AP_OTP, &other).await;
    reply.assert_conflict("Approval belongs to another legal entity");
    assert_eq!(app.log(AP_OTP).await.len(), 1);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 0);
    app.workers_idle().await;
    assert!(app.sms().await.is_empty());
}
