//! Who may recall, and what: token (401), scope (403), legal entity (409), the service request
//! itself (404), and a node without trust anchors (503).

use ehealth_es::auth::TokenKeys;
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{Options, TestApp};
use crate::*;

const NO_TOKEN: &str = "Authorization header is not set or doesn't contain Bearer token";
const INVALID_TOKEN: &str = "Invalid access token";
const MISSING_RECALL_SCOPE: &str =
    "Your scope does not allow to access this resource. Missing allowances: service_request:recall";
const LE_NOT_ALLOWED: &str = "Action is not allowed for the legal entity";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_without_a_valid_token_the_recall_scope_or_an_allowed_legal_entity_answers_401_403_or_409(
) {
    let app = TestApp::spawn().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let mut cases = vec![
        ("no bearer token", None, (401, "access_denied", NO_TOKEN)),
        (
            "a garbage token",
            Some("garbage.token.value".to_string()),
            (401, "access_denied", INVALID_TOKEN),
        ),
        (
            "a token signed by another key",
            Some(TokenKeys::new(b"other").mint(U_DOCTOR, LE_MAIN, ALL_SCOPES, 3600)),
            (401, "access_denied", INVALID_TOKEN),
        ),
        (
            "an expired token",
            Some(app.token_valid_for(U_DOCTOR, LE_MAIN, ALL_SCOPES, -60)),
            (401, "access_denied", INVALID_TOKEN),
        ),
        (
            "only the service_request:write scope: 403 naming the recall scope",
            Some(app.token(U_DOCTOR, LE_MAIN, "service_request:write")),
            (403, "forbidden", MISSING_RECALL_SCOPE),
        ),
    ];
    for (case, le) in [
        ("a closed legal entity", LE_CLOSED),
        ("a pharmacy", LE_PHARMACY),
        ("an unverified legal entity", LE_UNVERIFIED),
        ("an unknown legal entity", LE_UNKNOWN),
    ] {
        let token = app.token(U_DOCTOR, le, ALL_SCOPES);
        cases.push((case, Some(token), (409, "request_conflict", LE_NOT_ALLOWED)));
    }

    for (case, token, error) in cases {
        let path = paths::recall(P_OTP, SR_ACTIVE);
        let reply = app.patch(&path, token.as_deref(), Some(&body)).await;
        assert_case_refused(&reply, case, error);
        assert_untouched(&app, SR_ACTIVE).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_an_unknown_other_patients_or_malformed_service_request_answers_404() {
    let (app, token) = doctor_app().await;
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

    let not_configured =
        "Digital signature verification is not configured (EHEALTH_TRUST_ANCHORS is not set)";
    assert_recall_refused(
        &app,
        &token,
        SR_ACTIVE,
        &body,
        (503, "internal_error", not_configured),
    )
    .await;
}
