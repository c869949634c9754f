//! eHealth's response envelopes: `{meta, data}` and `{meta, error}`.
//!
//! Handlers and errors produce the body without `meta`; the [`envelope`] middleware, which knows
//! the request's URL and id, adds it, so every answer — including extractor rejections, 404s of
//! unknown routes and caught panics — carries the same meta.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tracing::Instrument;
use uuid::Uuid;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id (`x-request-id` or generated) and URL, for handlers and the envelope.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub url: String,
}

/// A body waiting for its `meta`.
#[derive(Debug, Clone)]
pub struct PendingBody(pub Map<String, Value>);

/// A successful answer: `data` (and optional top-level keys such as `paging`).
pub struct ApiResponse {
    pub status: StatusCode,
    pub body: Map<String, Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiResponse {
    pub fn new(status: StatusCode, data: Value) -> Self {
        let mut body = Map::new();
        body.insert("data".into(), data);
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    pub fn ok(data: Value) -> Self {
        Self::new(StatusCode::OK, data)
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

impl IntoResponse for ApiResponse {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response.extensions_mut().insert(PendingBody(self.body));
        response
    }
}

fn request_meta(request: &Request) -> RequestMeta {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_string)
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let url = format!("http://{host}{}", request.uri().path());
    RequestMeta { request_id, url }
}

/// Adds `meta` to every JSON answer and echoes the request id.
pub async fn envelope(mut request: Request, next: Next) -> Response {
    let meta = request_meta(&request);
    request.extensions_mut().insert(meta.clone());
    // Every log line written while serving the request (commands included) carries its id.
    let span = tracing::info_span!(
        "request",
        request_id = %meta.request_id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let response = path_rejection(next.run(request).instrument(span.clone()).await).await;
    span.in_scope(|| {
        if response.status().is_server_error() {
            tracing::error!(status = response.status().as_u16(), "request failed");
        } else {
            tracing::debug!(status = response.status().as_u16(), "request answered");
        }
    });
    let (mut parts, body) = response.into_parts();
    if let Some(PendingBody(mut doc)) = parts.extensions.remove::<PendingBody>() {
        let kind = match doc.get("data") {
            Some(Value::Array(_)) => "list",
            _ => "object",
        };
        doc.insert(
            "meta".into(),
            json!({
                "url": meta.url,
                "type": kind,
                "code": parts.status.as_u16(),
                "request_id": meta.request_id,
            }),
        );
        let bytes = serde_json::to_vec(&Value::Object(doc)).unwrap_or_default();
        parts.headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        let mut response = Response::from_parts(parts, Body::from(bytes));
        set_request_id(&mut response, &meta.request_id);
        return response;
    }
    let mut response = Response::from_parts(parts, body);
    set_request_id(&mut response, &meta.request_id);
    response
}

/// axum's path extractor answers a segment that percent-decodes to bytes that are not UTF-8
/// (`%FF`) with a plain-text 400 of its own, before any handler runs. Such a segment cannot be a
/// uuid, and a non-uuid id is a 404 in eHealth: it is answered as one, in the envelope.
async fn path_rejection(response: Response) -> Response {
    let plain_400 = response.status() == StatusCode::BAD_REQUEST
        && response.extensions().get::<PendingBody>().is_none()
        && response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/plain"));
    if !plain_400 {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    if text.starts_with(b"Invalid URL") {
        return super::error::ApiError::not_found("Resource not found").into_response();
    }
    Response::from_parts(parts, Body::from(text))
}

fn set_request_id(response: &mut Response, request_id: &str) {
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID, v);
    }
}
