//! What these tests need beyond the shared harness: an API-only node (workers off), requests with
//! arbitrary headers, hand-made tokens; and the paths of every endpoint (`support::paths`).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

pub use crate::support::paths::*;
use crate::support::service::ServeArgs;
use crate::support::world::*;
use crate::support::{self, Reply, TestApp};

/// Like `TestApp::spawn` (world imported, no trust anchors), but an API-only node:
/// `EHEALTH_WORKERS=false`, so jobs stay pending.
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
    let mut call = app.request(method, path);
    for (name, value) in headers {
        call = call.header(name, value);
    }
    match body {
        Some(body) => call.json(body).await,
        None => call.await,
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

/// The body of a valid recall of SR_ACTIVE by the requester doctor, with reason `reason`.
pub async fn recall_body(app: &TestApp, reason: &str) -> Value {
    app.doctor_recall_body(P_OTP, SR_ACTIVE, reason).await
}
