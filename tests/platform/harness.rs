//! What these tests need beyond the shared harness: an API-only node (workers off), requests with
//! arbitrary headers, hand-made tokens, and the paths of every endpoint.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ehealth_es::config::ServeArgs;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{self, Reply, TestApp};

/// Like `TestApp::spawn`, but an API-only node: `EHEALTH_WORKERS=false`, so jobs stay pending.
pub async fn spawn_without_workers() -> TestApp {
    spawn_configured(|args| args.workers = false).await
}

/// Like `TestApp::spawn` (world imported, no trust anchors), with the configuration adjusted.
pub async fn spawn_configured(configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
    TestApp::spawn_configured(
        support::Options {
            trust_anchors: false,
            import_world: true,
        },
        configure,
    )
    .await
}

/// Any request with exactly the given headers (no bearer token is added).
pub async fn request(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let mut req = app.client.request(method, format!("{}{path}", app.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let response = req.send().await.expect("request is answered");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    Reply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// A GET with a bearer token and extra headers.
pub async fn get_with(app: &TestApp, path: &str, token: &str, headers: &[(&str, &str)]) -> Reply {
    let auth = format!("Bearer {token}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    request(app, Method::GET, path, &all, None).await
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a valid token for U_DOCTOR at LE_MAIN with every scope; tests spoil one field.
pub fn claims() -> Value {
    json!({
        "sub": U_DOCTOR.to_string(),
        "client_id": LE_MAIN.to_string(),
        "scope": ALL_SCOPES,
        "iat": now(),
        "exp": now() + 3600,
    })
}

/// A token signed with the service's key and the given algorithm, whatever the claims say.
pub fn signed(claims: &Value, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(support::JWT_SECRET.as_bytes()),
    )
    .expect("token encodes")
}

/// An unsigned token: header `{"alg":"none"}`, the claims, and an empty signature.
pub fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.")
}

pub fn release(id: Uuid) -> String {
    format!("/api/service_requests/{id}/actions/release")
}

pub fn recall(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/service_requests/{id}/actions/recall")
}

pub fn reject(id: Uuid) -> String {
    format!("/api/merge_requests/{id}/actions/reject")
}

pub fn stop(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/device_dispenses/{id}/actions/stop")
}

pub fn resend(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/approvals/{id}/actions/resend")
}

pub fn service_request(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/service_requests/{id}")
}

pub fn merge_request(id: Uuid) -> String {
    format!("/api/merge_requests/{id}")
}

pub fn device_dispense(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/device_dispenses/{id}")
}

pub fn approval(patient: Uuid, id: Uuid) -> String {
    format!("/api/patients/{patient}/approvals/{id}")
}

/// Every scope the service knows except `scope`.
pub fn all_scopes_but(scope: &str) -> String {
    ALL_SCOPES
        .split_whitespace()
        .filter(|s| *s != scope)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A scalar of a query on the app's database.
pub async fn count(app: &TestApp, sql: &str) -> i64 {
    app.count(sql).await
}

/// Polls `check` (at most `secs` seconds) until it holds; returns whether it did.
pub async fn eventually<F, Fut>(secs: u64, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The body of a valid recall of SR_ACTIVE by the requester doctor, with reason `reason`.
pub async fn recall_body(app: &TestApp, reason: &str) -> Value {
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let shown = app
        .get(&service_request(P_OTP, SR_ACTIVE), Some(&token))
        .await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    let mut content = shown.data().clone();
    content["status_reason"] = json!({
        "coding": [ { "system": "eHealth/service_request_recall_reasons", "code": reason } ]
    });
    let bytes = serde_json::to_vec(&content).expect("content");
    json!({ "signed_data": support::pki().doctor.sign(&bytes) })
}
