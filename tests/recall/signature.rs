//! The digital signature: signer count, trust, validity, the envelope and its content.

use base64::Engine;
use serde_json::json;

use crate::support::pki::{sign_with_none, sign_with_two};
use crate::support::world::*;
use crate::support::{pki, TestApp};
use crate::*;

/// The content every signature test signs: a valid recall of SR_ACTIVE.
async fn valid_content(app: &TestApp) -> Vec<u8> {
    let token = doctor_token(app);
    let content = with_reason(rendering(app, &token, P_OTP, SR_ACTIVE).await, reason());
    serde_json::to_vec(&content).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_with_an_unsigned_envelope_answers_400_zero_signatures() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let signed = sign_with_none(&pki().ca, &valid_content(&app).await);

    let reply = app
        .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
        .await;

    reply.assert_error(
        400,
        "request_malformed",
        "document must be signed by 1 signer but contains 0 signatures",
    );
    assert!(reply.body["error"]["invalid"].is_null(), "{:#}", reply.body);
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_by_two_signers_answers_422_two_signatures() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let signed = sign_with_two(&pki().doctor, &pki().stranger, &valid_content(&app).await);

    let reply = app
        .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
        .await;

    let message = "document must be signed by 1 signer but contains 2 signatures";
    reply.assert_error(422, "validation_failed", message);
    assert_single_entry(&reply, "$.signed_data", "invalid", message, json!([]));
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_an_untrusted_or_expired_certificate_answers_422() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let content = valid_content(&app).await;
    let cases = [
        (&pki().untrusted, "matching ROOT certificate not found"),
        (&pki().expired, "certificate timestamp expired"),
    ];

    for (signer, message) in cases {
        let reply = app
            .recall(P_OTP, SR_ACTIVE, &body_of(&signer.sign(&content)), &token)
            .await;
        assert_eq!(reply.status, 422, "{message}: {:#}", reply.body);
        reply.assert_error(422, "validation_failed", message);
        assert_single_entry(&reply, "$.signed_data", "invalid", message, json!([]));
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_signed_content_is_not_json_answers_422_malformed_encoded_content() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let message = "Malformed encoded content. Probably, you have encoded corrupted JSON.";

    for content in [&b"not json"[..], b"{\"id\": ", b""] {
        let signed = pki().doctor.sign(content);
        let reply = app
            .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
            .await;
        let shown = String::from_utf8_lossy(content);
        assert_eq!(reply.status, 422, "{shown}: {:#}", reply.body);
        reply.assert_error(422, "validation_failed", message);
        assert_single_entry(&reply, "$.signed_data", "invalid", message, json!([]));
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_signed_content_is_json_but_not_an_object_answers_422_cast_at_the_root() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);

    for (content, kind) in [
        (&b"[1, 2]"[..], "Array"),
        (b"\"\"", "String"),
        (b"7", "Integer"),
    ] {
        let signed = pki().doctor.sign(content);
        let reply = app
            .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
            .await;
        let message = format!("type mismatch. Expected Object but got {kind}");
        reply.assert_error(422, "validation_failed", &message);
        assert_single_entry(&reply, "$", "cast", &message, json!(["object"]));
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_signed_data_is_base64_of_something_that_is_not_cms_answers_422() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let message = "Malformed signed data: not a CMS/PKCS#7 SignedData envelope";
    let engine = base64::engine::general_purpose::STANDARD;
    let inputs = [
        engine.encode(b"\x8f\x13random bytes that are not a CMS envelope\x00\x01\xfe"),
        engine.encode(valid_content(&app).await),
        // A DER SEQUENCE that is not a ContentInfo.
        engine.encode([0x30, 0x03, 0x02, 0x01, 0x05]),
        // Only whitespace: valid base64 of nothing.
        " ".to_string(),
    ];

    for signed in inputs {
        let reply = app
            .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
            .await;
        assert_eq!(reply.status, 422, "{signed}: {:#}", reply.body);
        reply.assert_error(422, "validation_failed", message);
        assert_single_entry(&reply, "$.signed_data", "invalid", message, json!([]));
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_by_someone_other_than_the_requester_answers_422_drfo_mismatch() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let signed = pki().stranger.sign(&valid_content(&app).await);

    let reply = app
        .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
        .await;

    let message = "Does not match the signer drfo";
    reply.assert_error(422, "validation_failed", message);
    assert_single_entry(&reply, "$.signed_data", "invalid", message, json!([]));
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_the_ecdsa_passport_certificate_by_the_doctor_answers_422_drfo_mismatch()
{
    // The passport signer is valid and trusted, but is not the requester of SR_ACTIVE.
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let signed = pki().passport_latin.sign(&valid_content(&app).await);

    let reply = app
        .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
        .await;

    let message = "Does not match the signer drfo";
    reply.assert_error(422, "validation_failed", message);
    assert_single_entry(&reply, "$.signed_data", "invalid", message, json!([]));
    assert_untouched(&app, SR_ACTIVE).await;
}
