//! Qualified signatures as Ukrainian signers make them: DSTU 4145 on the 257-bit curve (GOST
//! 34.311 or Kupyna-256) and ECDSA P-384, each with an RFC 3161 timestamp, checked against the
//! configured anchors, TSA certificates and CRLs; and every refusal the checks add.

use ehealth_test_pki::dstu::Hash;
use serde_json::Value;

use crate::support::qualified_pki::qualified;
use crate::support::world::*;
use crate::support::{pki, Options, TestApp};
use crate::*;

/// The doctor's valid recall content for SR_ACTIVE, as bytes.
async fn content(app: &TestApp) -> Vec<u8> {
    let token = doctor_token(app);
    let content = with_reason(rendering(app, &token, P_OTP, SR_ACTIVE).await, reason());
    serde_json::to_vec(&content).unwrap()
}

/// A recall with `signed` was accepted: the job processed, SR_ACTIVE recalled by one event, the
/// envelope stored as received.
async fn assert_recalled(app: &TestApp, signed: &str) {
    let token = doctor_token(app);
    recall_and_wait(app, &token, P_OTP, SR_ACTIVE, &body_of(signed)).await;
    let events = app.log(SR_ACTIVE).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1]["event_type"], "ServiceRequestRecalled");
    let row = app.current("service_requests", SR_ACTIVE).await.unwrap();
    assert_eq!(row["status"], "recalled");
    assert_envelope_stored(app, "the recall", signed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_dstu_4145_on_the_257_bit_curve_and_gost_34311_is_accepted() {
    let app = TestApp::spawn().await;
    let signed = qualified().dstu_sign(&content(&app).await, Hash::Gost);
    assert_recalled(&app, &signed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_dstu_4145_and_kupyna_is_accepted() {
    let app = TestApp::spawn().await;
    let signed = qualified().dstu_sign(&content(&app).await, Hash::Kupyna);
    assert_recalled(&app, &signed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_an_ecdsa_p384_certificate_is_accepted() {
    let app = TestApp::spawn().await;
    let signed = qualified().p384_doctor.sign(&content(&app).await);
    assert_recalled(&app, &signed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_drfo_is_only_in_the_certificates_directory_attribute_is_accepted() {
    let app = TestApp::spawn().await;
    let signed = qualified().attribute_doctor.sign(&content(&app).await);
    assert_recalled(&app, &signed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_a_revoked_certificate_answers_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let signed = qualified().revoked.sign(&content(&app).await);
    assert_signed_refused(&app, &signed, "certificate is revoked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_a_certificate_of_unknown_revocation_status_answers_422() {
    let app = TestApp::spawn().await;
    let signed = qualified().unknown_status.sign(&content(&app).await);
    let message = "certificate revocation status is unknown: no fresh CRL and no OCSP answer";
    assert_signed_refused(&app, &signed, message).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_without_a_timestamp_answers_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let signed = pki().doctor.sign_unstamped(&content(&app).await);
    let message = "retrieving a timestamp of data from an envelope with signed data failed";
    assert_signed_refused(&app, &signed, message).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_stamped_by_an_untrusted_tsa_answers_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp() as u64;
    let der = pki()
        .doctor
        .sign_stamped_by(&content(&app).await, &qualified().rogue_tsa, now);
    let signed = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    assert_signed_refused(&app, &signed, "matching TSP certificate not found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_on_an_unsupported_curve_answers_422_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let signed = qualified().p521.sign(&content(&app).await);
    assert_signed_refused(&app, &signed, "unsupported elliptic curve 1.3.132.0.35").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_a_dstu_key_whose_parameters_name_another_dke_answers_422() {
    let app = TestApp::spawn().await;
    let signed = qualified().dstu_sign_other_dke(&content(&app).await);
    let message = "unsupported DKE: GOST 34.311 is available with the standard DKE only";
    assert_signed_refused(&app, &signed, message).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_a_certificate_carrying_two_different_drfo_answers_422() {
    let app = TestApp::spawn().await;
    let signed = qualified().drfo_conflict.sign(&content(&app).await);
    let message = "signer certificate carries two different DRFO values";
    assert_signed_refused(&app, &signed, message).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_without_a_timestamp_is_accepted_when_the_configuration_does_not_require_one() {
    let app = TestApp::spawn_configured(Options::default(), |args| {
        args.signature.timestamp_required = false;
    })
    .await;
    let signed = pki().doctor.sign_unstamped(&content(&app).await);
    assert_recalled(&app, &signed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drfo_check_still_applies_to_a_dstu_signer_who_is_not_the_requester() {
    // SR_PASSPORT's requester is the passport doctor; the DSTU doctor is someone else.
    let app = TestApp::spawn().await;
    let token = app.token(U_PASSPORT, LE_MAIN, ALL_SCOPES);
    let content: Value = with_reason(rendering(&app, &token, P_OTP, SR_PASSPORT).await, reason());
    let signed = qualified().dstu_sign(&serde_json::to_vec(&content).unwrap(), Hash::Gost);
    let reply = app
        .recall(P_OTP, SR_PASSPORT, &body_of(&signed), &token)
        .await;
    assert_signed_data_refused(&reply, "a DSTU signer", "Does not match the signer drfo");
    let events = app.log(SR_PASSPORT).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(app.job_count().await, 0);
}
