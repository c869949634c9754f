//! Bearer tokens and scopes: 401 `access_denied` with the gateway's two texts, 403 `forbidden`
//! naming exactly the missing scopes; a refused request appends nothing.

use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::json;

use crate::harness::*;
use crate::support::world::*;
use crate::support::TestApp;

const NO_BEARER: &str = "Authorization header is not set or doesn't contain Bearer token";
const INVALID_TOKEN: &str = "Invalid access token";

/// Sends a read and an action with the given `Authorization` header (or none); both must answer
/// 401 with `message`, and the service request must be untouched. A valid token is then accepted
/// on the same read, so the refusal is the token's doing.
async fn assert_refused(app: &TestApp, authorization: Option<&str>, message: &str) {
    let headers: Vec<(&str, &str)> = authorization
        .map(|a| vec![("authorization", a)])
        .unwrap_or_default();
    for (method, path) in [
        (Method::GET, service_request(P_OTP, SR_QUEUED)),
        (Method::PATCH, release(SR_QUEUED)),
        (
            Method::GET,
            "/api/jobs/0123456789abcdef01234567".to_string(),
        ),
    ] {
        let reply = request(app, method.clone(), &path, &headers, None).await;
        reply.assert_error(401, "access_denied", message);
        assert!(
            reply.body.get("data").is_none(),
            "{method} {path} with {authorization:?}: {:#}",
            reply.body
        );
    }
    assert_eq!(app.log(SR_QUEUED).await.len(), 1, "nothing appended");
    assert_eq!(count(app, "SELECT count(*) FROM jobs").await, 0);

    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let control = app.service_request(P_OTP, SR_QUEUED, &token).await;
    assert_eq!(control.status, 200, "{:#}", control.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_an_authorization_header_answers_401_access_denied() {
    let app = TestApp::spawn().await;
    assert_refused(&app, None, NO_BEARER).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_header_that_is_not_a_bearer_token_answers_401_access_denied() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let basic_with_token = format!("Basic {token}");
    let bare_token = token.clone();
    for header in [
        "Basic xyz",
        basic_with_token.as_str(),
        bare_token.as_str(),
        "Bearer",
        "Bearer    ",
        "",
    ] {
        assert_refused(&app, Some(header), NO_BEARER).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_bearer_token_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    for token in ["garbage", "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9.e30.xx"] {
        assert_refused(&app, Some(&format!("Bearer {token}")), INVALID_TOKEN).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_key_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    let token = crate::support::service::mint(b"other", U_DOCTOR, LE_MAIN, ALL_SCOPES, 3600);
    assert_refused(&app, Some(&format!("Bearer {token}")), INVALID_TOKEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    let token = app.token_valid_for(U_DOCTOR, LE_MAIN, ALL_SCOPES, -5);
    assert_refused(&app, Some(&format!("Bearer {token}")), INVALID_TOKEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_token_with_alg_none_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    let token = unsigned(&claims());
    assert_refused(&app, Some(&format!("Bearer {token}")), INVALID_TOKEN).await;
    // The same header in front of a genuine HS256 signature of the same claims.
    let genuine = signed(&claims(), Algorithm::HS256);
    let signature = genuine.rsplit('.').next().unwrap();
    let forged = format!("{token}{signature}");
    assert_refused(&app, Some(&format!("Bearer {forged}")), INVALID_TOKEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_hmac_algorithm_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = signed(&claims(), alg);
        assert_refused(&app, Some(&format!("Bearer {token}")), INVALID_TOKEN).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_whose_subject_or_client_is_not_a_uuid_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    for (field, value) in [
        ("sub", json!("doctor")),
        ("sub", json!("")),
        ("client_id", json!("main-clinic")),
        ("sub", json!(42)),
    ] {
        let mut c = claims();
        c[field] = value;
        let token = signed(&c, Algorithm::HS256);
        assert_refused(&app, Some(&format!("Bearer {token}")), INVALID_TOKEN).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_not_valid_before_a_future_time_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    let mut c = claims();
    c["nbf"] = json!(now() + 600);
    let token = signed(&c, Algorithm::HS256);
    assert_refused(&app, Some(&format!("Bearer {token}")), INVALID_TOKEN).await;

    // The same token with `nbf` in the past is accepted.
    c["nbf"] = json!(now() - 600);
    let token = signed(&c, Algorithm::HS256);
    let reply = app.service_request(P_OTP, SR_QUEUED, &token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_an_expiry_a_subject_or_any_scope_answers_401_invalid_access_token() {
    let app = TestApp::spawn().await;
    for (field, value) in [
        ("exp", None),
        ("sub", None),
        ("client_id", None),
        ("scope", None),
        ("scope", Some(json!(""))),
        ("scope", Some(json!("   "))),
    ] {
        let mut c = claims();
        match value {
            Some(v) => c[field] = v,
            None => {
                c.as_object_mut().unwrap().remove(field);
            }
        }
        let token = signed(&c, Algorithm::HS256);
        assert_refused(&app, Some(&format!("Bearer {token}")), INVALID_TOKEN).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let header = format!("{scheme} {token}");
        let reply = request(
            &app,
            Method::GET,
            &service_request(P_OTP, SR_QUEUED),
            &[("authorization", header.as_str())],
            None,
        )
        .await;
        assert_eq!(reply.status, 200, "{scheme}: {:#}", reply.body);
    }
}

fn forbidden(missing: &str) -> String {
    format!("Your scope does not allow to access this resource. Missing allowances: {missing}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_endpoint_answers_403_naming_its_scope_when_the_token_lacks_only_that_scope() {
    let (app, doctor) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let job = app.release(SR_QUEUED, &doctor).await.job_href();
    // Finished, the job answers 303 to whoever may read it.
    assert_eq!(app.wait_job(&job, &doctor).await.status, 303);
    for (path, scope, status) in [
        (
            service_request(P_OTP, SR_QUEUED),
            "service_request:read",
            200,
        ),
        (merge_request(MR_NEW), "merge_request:read", 200),
        (
            device_dispense(P_OTP, DD_IN_PROGRESS),
            "device_dispense:read",
            200,
        ),
        (approval(P_OTP, AP_OTP), "approval:read", 200),
        (job.clone(), "job:read", 303),
    ] {
        let token = app.token(U_SPECIALIST, LE_MAIN, &all_scopes_but(scope));
        let reply = app.get(&path, Some(&token)).await;
        reply.assert_error(403, "forbidden", &forbidden(scope));

        // Only that scope is needed: a token holding just it is let through.
        let token = app.token(U_SPECIALIST, LE_MAIN, scope);
        let reply = app.get(&path, Some(&token)).await;
        assert_eq!(
            reply.status, status,
            "{path} with only {scope}: {:#}",
            reply.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_answers_403_naming_its_scope_and_appends_nothing_when_the_token_lacks_it() {
    let app = TestApp::spawn().await;
    let before = app.event_count().await;
    let recall_body = json!({ "signed_data": "aGVsbG8=" });
    for (path, body, scope, user) in [
        (release(SR_QUEUED), None, "service_request:use", U_DOCTOR),
        (
            recall(P_OTP, SR_ACTIVE),
            Some(&recall_body),
            "service_request:recall",
            U_DOCTOR,
        ),
        (reject(MR_NEW), None, "merge_request:write", U_SPECIALIST),
        (
            stop(P_OTP, DD_IN_PROGRESS),
            None,
            "device_dispense:stop",
            U_DOCTOR,
        ),
        (resend(P_OTP, AP_OTP), None, "approval:create", U_DOCTOR),
    ] {
        let token = app.token(user, LE_MAIN, &all_scopes_but(scope));
        let reply = app.patch(&path, Some(&token), body).await;
        reply.assert_error(403, "forbidden", &forbidden(scope));
    }
    assert_eq!(app.event_count().await, before);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 0);
    assert_eq!(
        count(&app, "SELECT count(*) FROM processed_commands").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_with_unrelated_scopes_only_lists_the_one_the_endpoint_needs() {
    let app = TestApp::spawn().await;
    let token = app.token(
        U_DOCTOR,
        LE_MAIN,
        "merge_request:read device_dispense:read approval:read job:read other:thing",
    );
    let reply = app.release(SR_QUEUED, &token).await;
    reply.assert_error(403, "forbidden", &forbidden("service_request:use"));
    let reply = app.service_request(P_OTP, SR_QUEUED, &token).await;
    reply.assert_error(403, "forbidden", &forbidden("service_request:read"));
    // A scope is matched whole, not as a prefix.
    let token = app.token(U_DOCTOR, LE_MAIN, "service_request:reader service_request");
    let reply = app.service_request(P_OTP, SR_QUEUED, &token).await;
    reply.assert_error(403, "forbidden", &forbidden("service_request:read"));
}

/// The gateway checks the token and its scopes before the request reaches the service
///, as eHealth does, so a caller without the scope learns nothing about the body's validity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_without_the_recall_scope_answers_403_whatever_the_body() {
    let app = TestApp::spawn().await;
    let token = app.token(U_DOCTOR, LE_MAIN, &all_scopes_but("service_request:recall"));
    let missing = forbidden("service_request:recall");
    for (content_type, body) in [
        ("text/plain", "not json"),
        ("application/json", "{not json"),
    ] {
        let reply = app
            .patch_raw(&recall(P_OTP, SR_ACTIVE), &token, content_type, body.into())
            .await;
        reply.assert_case_error(content_type, (403, "forbidden", &missing));
    }
}
