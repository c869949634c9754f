//! Resend of an approval that another legal entity owns. eHealth looks the approval up by patient
//! and id only, so every rule of the spec answers first — person 404, approval 404, `Person is
//! not active`, the method, the status (and the phone's 429, tests/platform/otp_limit.rs) — and
//! ownership answers last: 409 `Approval belongs to another legal entity`, never a 404.

use serde_json::json;
use uuid::Uuid;

use crate::resend::assert_refused_without_trace;
use crate::support::world::*;
use crate::support::TestApp;

/// Approvals granted to E_OTHER, so owned by LE_OTHER.
const AO_INACTIVE_PERSON: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_00ab_0001);
const AO_OFFLINE: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_00ab_0002);
const AO_ACTIVE: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_00ab_0003);

async fn app_with_approvals_of_another_legal_entity() -> TestApp {
    let app = TestApp::spawn().await;
    let approval = |id: Uuid, patient: Uuid, status: &str| {
        json!({ "id": id, "patient_id": patient, "status": status, "granted_to": E_OTHER,
                "expires_at": 1_900_000_000 })
    };
    app.import(&json!({ "approvals": [
            approval(AO_INACTIVE_PERSON, P_INACTIVE, "new"),
            approval(AO_OFFLINE, P_OFFLINE, "new"),
            approval(AO_ACTIVE, P_OTP, "active"),
        ] }))
    .await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_of_another_legal_entitys_approval_answers_409_belongs_to_another_legal_entity() {
    let app = TestApp::spawn().await;
    let before = app.event_count().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);

    let reply = app.resend_otp(P_OTP, AP_OTHER_LE, &token).await;

    reply.assert_conflict("Approval belongs to another legal entity");
    assert_refused_without_trace(&app, &[AP_OTHER_LE], before).await;
    // The owner may resend it.
    let owner = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    let href = app.resend_otp(P_OTP, AP_OTHER_LE, &owner).await.job_href();
    assert_eq!(
        app.wait_job(&href, &owner).await.data()["status"],
        "processed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_of_the_spec_answers_before_ownership() {
    let app = app_with_approvals_of_another_legal_entity().await;
    let before = app.event_count().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);

    let cases = [
        (
            (P_UNKNOWN, AP_OTHER_LE),
            404,
            "not_found",
            "Person not found",
        ),
        (
            (P_OTP, Uuid::new_v4()),
            404,
            "not_found",
            "Approval with such id is not found",
        ),
        (
            (P_INACTIVE, AO_INACTIVE_PERSON),
            409,
            "request_conflict",
            "Person is not active",
        ),
        (
            (P_OFFLINE, AO_OFFLINE),
            409,
            "request_conflict",
            "Resend SMS is not allowed for this authentication method",
        ),
        (
            (P_OTP, AO_ACTIVE),
            409,
            "request_conflict",
            "Approval in status active can not be resent",
        ),
        (
            (P_OTP, AP_OTHER_LE),
            409,
            "request_conflict",
            "Approval belongs to another legal entity",
        ),
    ];
    for ((patient, approval), status, kind, message) in cases {
        let reply = app.resend_otp(patient, approval, &token).await;
        reply.assert_error(status, kind, message);
    }
    assert_refused_without_trace(
        &app,
        &[AO_INACTIVE_PERSON, AO_OFFLINE, AO_ACTIVE, AP_OTHER_LE],
        before,
    )
    .await;
}
