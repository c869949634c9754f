//! eHealth's envelope on every answer: `meta` = `{url, type, code, request_id}`, with the request id
//! taken from `x-request-id` (and echoed in the response header) or generated.

use reqwest::Method;
use serde_json::Value;
use uuid::Uuid;

use crate::harness::*;
use crate::support::world::*;
use crate::support::{Reply, TestApp};

/// Asserts the meta of an answer to `path`, and that the response header carries the same id.
#[track_caller]
fn assert_meta(reply: &Reply, app: &TestApp, path: &str, request_id: Option<&str>) -> String {
    let meta = &reply.body["meta"];
    assert_eq!(
        meta["url"],
        format!("{}{path}", app.base),
        "meta.url of {:#}",
        reply.body
    );
    assert!(meta["url"].as_str().unwrap().ends_with(path));
    assert_eq!(meta["type"], "object", "{:#}", reply.body);
    assert_eq!(meta["code"], reply.status, "{:#}", reply.body);
    let id = meta["request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("meta.request_id of {:#}", reply.body))
        .to_string();
    match request_id {
        Some(given) => assert_eq!(id, given),
        None => assert!(!id.is_empty()),
    }
    assert_eq!(
        reply.headers["x-request-id"].to_str().unwrap(),
        id,
        "x-request-id response header"
    );
    reply.assert_json();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_answer_carries_the_url_the_type_the_code_and_the_given_request_id() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let path = service_request(P_OTP, SR_QUEUED);
    let reply = get_with(&app, &path, &token, &[("x-request-id", "req-123")]).await;
    assert_eq!(reply.status, 200);
    assert_meta(&reply, &app, &path, Some("req-123"));
    assert_eq!(reply.data()["id"], SR_QUEUED.to_string());
    let keys: Vec<&String> = reply.body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 2, "only meta and data: {keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_action_carries_meta_code_202_and_its_request_id_reaches_the_event() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let path = release(SR_QUEUED);
    let reply = app
        .release(SR_QUEUED, &token)
        .request_id("release-req-1")
        .await;
    assert_eq!(reply.status, 202, "{:#}", reply.body);
    assert_meta(&reply, &app, &path, Some("release-req-1"));
    let events = app.log(SR_QUEUED).await;
    assert_eq!(events[1]["metadata"]["request_id"], "release-req-1");
    assert_eq!(events[1]["metadata"]["correlation_id"], "release-req-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_x_request_id_every_answer_gets_its_own_generated_request_id() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let path = service_request(P_OTP, SR_QUEUED);
    let a = app.get(&path, Some(&token)).await;
    let b = app.get(&path, Some(&token)).await;
    let id_a = assert_meta(&a, &app, &path, None);
    let id_b = assert_meta(&b, &app, &path, None);
    assert_ne!(id_a, id_b);
    Uuid::parse_str(&id_a).expect("a generated request id is a uuid");

    // An empty or overlong id is not taken.
    let long = "x".repeat(201);
    for given in ["", long.as_str()] {
        let reply = get_with(&app, &path, &token, &[("x-request-id", given)]).await;
        let id = assert_meta(&reply, &app, &path, None);
        assert_ne!(id, given);
        Uuid::parse_str(&id).expect("generated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_carry_the_same_meta_as_success_answers() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let no_read = app.token(U_DOCTOR, LE_MAIN, "job:read");

    let path = service_request(P_OTP, SR_QUEUED);
    let reply = request(&app, Method::GET, &path, &[("x-request-id", "e401")], None).await;
    reply.assert_error(
        401,
        "access_denied",
        "Authorization header is not set or doesn't contain Bearer token",
    );
    assert_meta(&reply, &app, &path, Some("e401"));

    let reply = get_with(&app, &path, &no_read, &[("x-request-id", "e403")]).await;
    assert_eq!(reply.status, 403);
    assert_meta(&reply, &app, &path, Some("e403"));

    let missing = service_request(P_OTP, Uuid::new_v4());
    let reply = get_with(&app, &missing, &token, &[("x-request-id", "e404")]).await;
    reply.assert_error(404, "not_found", "Service request not found");
    assert_meta(&reply, &app, &missing, Some("e404"));

    let path = release(SR_RECALLED);
    let reply = app.release(SR_RECALLED, &token).request_id("e409").await;
    reply.assert_conflict("Invalid service request status");
    assert_meta(&reply, &app, &path, Some("e409"));

    // An extractor's rejection (415) is wrapped too.
    let path = recall(P_OTP, SR_ACTIVE);
    let reply = app
        .patch_raw(&path, &token, "text/plain", b"x".to_vec())
        .await;
    assert_eq!(reply.status, 415, "{:#}", reply.body);
    assert_eq!(reply.error_type(), "content_type_invalid");
    assert_meta(&reply, &app, &path, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_route_answers_404_in_the_envelope() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    for (method, path) in [
        (Method::GET, "/"),
        (Method::GET, "/api"),
        (Method::GET, "/api/nothing/here"),
        (Method::GET, "/api/service_requests/abc"),
        (Method::PATCH, "/api/service_requests/abc/actions/unknown"),
        (Method::POST, "/jobs/0123456789abcdef01234567"),
    ] {
        let auth = format!("Bearer {token}");
        let reply = request(
            &app,
            method.clone(),
            path,
            &[("authorization", auth.as_str()), ("x-request-id", "r404")],
            None,
        )
        .await;
        reply.assert_error(404, "not_found", "Route not found");
        assert_meta(&reply, &app, path, Some("r404"));
        // Unknown routes need no token.
        let reply = request(&app, method.clone(), path, &[], None).await;
        reply.assert_error(404, "not_found", "Route not found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_route_with_an_unsupported_method_answers_in_the_envelope() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let auth = format!("Bearer {token}");
    for (method, path) in [
        (Method::POST, release(SR_QUEUED)),
        (Method::GET, release(SR_QUEUED)),
        (
            Method::DELETE,
            "/api/jobs/0123456789abcdef01234567".to_string(),
        ),
    ] {
        let reply = request(
            &app,
            method.clone(),
            &path,
            &[("authorization", auth.as_str()), ("x-request-id", "m1")],
            None,
        )
        .await;
        reply.assert_error(405, "method_not_allowed", "Method not allowed");
        assert_meta(&reply, &app, &path, Some("m1"));
    }
    assert_eq!(app.log(SR_QUEUED).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_about_one_entity_or_job_have_meta_type_object() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let href = app.resend_otp(P_OTP, AP_OTP, &token).await.job_href();
    for reply in [
        app.wait_job(&href, &token).await,
        app.approval(P_OTP, AP_OTP, &token).await,
        app.patch(
            &reject(MR_NEW),
            Some(&app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES)),
            None,
        )
        .await,
    ] {
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        assert_eq!(reply.body["meta"]["type"], "object");
        assert_eq!(reply.body["meta"]["code"], 200);
        assert!(matches!(reply.body["data"], Value::Object(_)));
    }
}
