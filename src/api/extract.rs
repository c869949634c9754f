//! Request extractors that answer in eHealth's envelopes: the caller's identity (401), ids in the
//! path (404 for a malformed id, as eHealth does), and JSON bodies (415, 413, 400).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use serde_json::Value;
use uuid::Uuid;

use super::envelope::RequestMeta;
use super::error::{ApiError, MALFORMED_JSON};
use crate::app::AppState;
use crate::auth::{bearer, Identity, INVALID_TOKEN, NO_BEARER};

/// The authenticated caller plus the request's meta and Idempotency-Key.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    pub meta: RequestMeta,
    pub idempotency_key: Option<String>,
}

impl Caller {
    /// 403 with the missing scopes unless the token grants all of `scopes`.
    pub fn require(&self, scopes: &[&str]) -> Result<(), ApiError> {
        let missing = self.identity.missing_scopes(scopes);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ApiError::missing_scopes(&missing))
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer(header).ok_or_else(|| ApiError::unauthorized(NO_BEARER))?;
        let identity = state
            .keys
            .verify(token)
            .ok_or_else(|| ApiError::unauthorized(INVALID_TOKEN))?;
        let meta = parts
            .extensions
            .get::<RequestMeta>()
            .cloned()
            .unwrap_or_else(|| RequestMeta {
                request_id: Uuid::new_v4().to_string(),
                url: String::new(),
            });
        let idempotency_key = parts
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_string);
        if let Some(key) = &idempotency_key {
            if key.len() > 255 {
                return Err(ApiError::invalid(
                    "$.headers.idempotency-key",
                    "length",
                    "Idempotency-Key must be at most 255 characters",
                    Value::Null,
                ));
            }
        }
        Ok(Caller {
            identity,
            meta,
            idempotency_key,
        })
    }
}

/// A path id; anything that is not a uuid cannot name an entity, so it is a 404.
pub fn path_id(raw: &str, not_found: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found(not_found))
}

/// The raw request body, within the size limit (413 in the envelope otherwise). Parsing waits for
/// [`parse_json`], so that authentication and scope are checked first.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(RawBody)
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::payload_too_large()
                } else {
                    ApiError::malformed(MALFORMED_JSON)
                }
            })
    }
}

/// A JSON body: `application/json` (415 otherwise) and well-formed (400 otherwise).
pub fn parse_json(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Err(ApiError::unsupported_media_type());
    }
    serde_json::from_slice(body).map_err(|_| ApiError::malformed(MALFORMED_JSON))
}
