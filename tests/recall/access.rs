//! Who may recall, and what: token (401), scope (403), legal entity (409), the service request
//! itself (404), and a node without trust anchors (503).

use ehealth_es::auth::TokenKeys;
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{Options, TestApp};
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_without_a_bearer_token_answers_401() {
    let app = TestApp::spawn().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;

    let reply = app
        .patch(&paths::recall(P_OTP, SR_ACTIVE), None, Some(&body))
        .await;

    reply.assert_error(
        401,
        "access_denied",
        "Authorization header is not set or doesn't contain Bearer token",
    );
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_with_a_garbage_foreign_or_expired_token_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let tokens = [
        ("garbage", "garbage.token.value".to_string()),
        (
            "signed by another key",
            TokenKeys::new(b"other").mint(U_DOCTOR, LE_MAIN, ALL_SCOPES, 3600),
        ),
        (
            "expired",
            app.token_valid_for(U_DOCTOR, LE_MAIN, ALL_SCOPES, -60),
        ),
    ];

    for (what, token) in tokens {
        let reply = app.recall(P_OTP, SR_ACTIVE, &body, &token).await;
        assert_eq!(reply.status, 401, "{what}: {:#}", reply.body);
        reply.assert_error(401, "access_denied", "Invalid access token");
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_with_only_the_service_request_write_scope_answers_403_naming_the_recall_scope() {
    let app = TestApp::spawn().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let token = app.token(U_DOCTOR, LE_MAIN, "service_request:write");

    let reply = app.recall(P_OTP, SR_ACTIVE, &body, &token).await;

    reply.assert_error(
        403,
        "forbidden",
        "Your scope does not allow to access this resource. Missing allowances: service_request:recall",
    );
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_by_a_closed_pharmacy_unverified_or_unknown_legal_entity_answers_409() {
    let app = TestApp::spawn().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;

    for le in [LE_CLOSED, LE_PHARMACY, LE_UNVERIFIED, LE_UNKNOWN] {
        let token = app.token(U_DOCTOR, le, ALL_SCOPES);
        let reply = app.recall(P_OTP, SR_ACTIVE, &body, &token).await;
        assert_eq!(reply.status, 409, "legal entity {le}: {:#}", reply.body);
        reply.assert_error(
            409,
            "request_conflict",
            "Action is not allowed for the legal entity",
        );
        assert!(reply.body["error"]["invalid"].is_null(), "{:#}", reply.body);
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_an_unknown_other_patients_or_malformed_service_request_answers_404() {
    let app = TestApp::spawn().await;
    let token = doctor_token(&app);
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let unknown = Uuid::new_v4();
    let paths = [
        ("unknown id", paths::recall(P_OTP, unknown)),
        (
            "another patient in the path",
            paths::recall(P_OFFLINE, SR_ACTIVE),
        ),
        (
            "not a uuid",
            format!("/api/patients/{P_OTP}/service_requests/not-a-uuid/actions/recall"),
        ),
    ];

    for (what, path) in paths {
        let reply = app.patch(&path, Some(&token), Some(&body)).await;
        assert_eq!(reply.status, 404, "{what}: {:#}", reply.body);
        reply.assert_error(404, "not_found", "Service request not found");
    }
    assert_untouched(&app, SR_ACTIVE).await;
    assert!(app.log(unknown).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_on_a_node_without_trust_anchors_answers_503_and_changes_nothing() {
    let app = TestApp::spawn_with(Options {
        trust_anchors: false,
        import_world: true,
    })
    .await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let token = doctor_token(&app);

    let reply = app.recall(P_OTP, SR_ACTIVE, &body, &token).await;

    reply.assert_error(
        503,
        "internal_error",
        "Digital signature verification is not configured (EHEALTH_TRUST_ANCHORS is not set)",
    );
    assert_untouched(&app, SR_ACTIVE).await;
}
