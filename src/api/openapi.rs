//! The OpenAPI 3.1 document of the HTTP API, generated from the code with utoipa and served at
//! `GET /api/openapi.json` (no token).
//!
//! Each handler carries its `#[utoipa::path(...)]` (path, parameters, body, every status it can
//! answer, scopes); this module assembles them with the documentation-only schemas of
//! [`schemas`], the bearer security scheme and the error responses every authenticated operation
//! shares. `tests/platform/openapi.rs` compares the documented operations with the routes of
//! `src/api/mod.rs`, so a route added without documentation fails the tests.

pub mod care_plan_schemas;
pub mod schemas;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::response::{Response as ApiResponseDoc, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{IntoResponses, Modify, OpenApi};

use super::query_params::DateOrInstant;
use schemas::*;

/// The security scheme's name in the document.
pub const BEARER: &str = "bearer";

/// The document: every operation of the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ehealth-es",
        description = "Event-sourced command service for five actions of Ukraine's eHealth system \
(ESOZ), with read, audit and analyst endpoints.\n\n\
Every JSON answer is eHealth's envelope: `{meta: {url, type, code, request_id}, data, paging?}` on \
success and `{meta, error: {type, message, invalid?}}` on failure. `meta.request_id` is the \
`x-request-id` request header (echoed back) or a generated uuid.\n\n\
Authentication: `Authorization: Bearer <JWT>`, HS256, claims `sub` (user id), `client_id` (legal \
entity id), `scope` (space-separated), `exp`, `iat`, optional `nbf`. The scopes an operation needs \
are listed in its `security` requirement; a missing one is 403.\n\n\
Any path of this document with a method it does not list answers 405 `method_not_allowed`; a \
path outside it answers 404 `not_found` (`Route not found`). A path id that is not a uuid is 404, \
as in eHealth. Query parameters an endpoint does not take, and repeated ones, are refused with 422."
    ),
    paths(
        super::service_requests::release,
        super::service_requests::recall,
        super::merge_requests::reject,
        super::device_dispenses::stop,
        super::approvals::resend,
        super::jobs::show,
        super::events::list,
        super::events::show,
        super::lists::service_requests,
        super::lists::merge_requests,
        super::lists::device_dispenses,
        super::health::live,
        super::health::ready,
        super::health::metrics,
        document,
    ),
    components(schemas(ErrorEnvelope, InvalidEntry, DateOrInstant)),
    modifiers(&Components),
    tags(
        (name = "actions", description = "The five commands: Release, Recall, Reject, Stop, Resend"),
        (name = "entities", description = "The current (or a past) state of one entity"),
        (name = "jobs", description = "Async jobs of Release, Recall, Stop and Resend"),
        (name = "audit", description = "The Event Manager feed and entity histories"),
        (name = "analyst lists", description = "Filtered lists with cursor paging, as JSON or CSV"),
        (name = "operations", description = "Health, metrics and this document; no token"),
    )
)]
pub struct ApiDoc;

/// Adds the read endpoints' operations (declared with their table), the bearer scheme, the shared
/// error responses and `allowEmptyValue`, which the derive cannot express.
struct Components;

/// The shared error responses: `(status, component name, description, example message)`.
const SHARED_ERRORS: [(&str, &str, &str, &str, &str); 4] = [
    (
        "401",
        "Unauthorized",
        "No bearer token, or one with a bad signature, `alg: none`, expired, not yet valid, \
         malformed, with a non-uuid `sub`/`client_id` or no scope",
        "access_denied",
        "Invalid access token",
    ),
    (
        "403",
        "Forbidden",
        "The token lacks a scope the operation needs",
        "forbidden",
        "Your scope does not allow to access this resource. Missing allowances: job:read",
    ),
    (
        "500",
        "InternalError",
        "An unexpected failure (never internals in the message)",
        "internal_error",
        "Internal server error",
    ),
    (
        "503",
        "Unavailable",
        "The database is unreachable (retry later)",
        "internal_error",
        "Service temporarily unavailable, please retry",
    ),
];

fn error_response(description: &str, status: &str, kind: &str, message: &str) -> ApiResponseDoc {
    let example = json!({
        "meta": { "url": "http://127.0.0.1:8080/api/…", "type": "object",
                  "code": status.parse::<u16>().unwrap_or_default(),
                  "request_id": "0b9a4b4e-6f5a-4d8e-9b8a-3f3c2f1d0e6a" },
        "error": { "type": kind, "message": message }
    });
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                .example(Some(example))
                .build(),
        )
        .build()
}

impl Modify for Components {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.merge(super::read_endpoints::Operations::openapi());
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 JWT signed with EHEALTH_JWT_SECRET (`ehealth-es token`); claims \
                         sub, client_id, scope, exp, iat, optional nbf",
                    ))
                    .build(),
            ),
        );
        for (status, name, description, kind, message) in SHARED_ERRORS {
            components.responses.insert(
                name.to_string(),
                RefOr::T(error_response(description, status, kind, message)),
            );
        }
        // Every query parameter of this API treats an empty value (`?status=`) as absent, which is
        // what `allowEmptyValue` says; utoipa's `Parameter` has no field for it, so it is written
        // through the flattened extensions map, which serializes its keys as given.
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.patch];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if parameter.parameter_in == ParameterIn::Query {
                        parameter
                            .extensions
                            .get_or_insert_with(Default::default)
                            .insert("allowEmptyValue".to_string(), json!(true));
                    }
                }
            }
        }
        // Not attached to any operation (a 405 answers a method no operation has), but its shape
        // is the same envelope.
        components.responses.insert(
            "MethodNotAllowed".to_string(),
            RefOr::T(error_response(
                "A method the path does not have",
                "405",
                "method_not_allowed",
                "Method not allowed",
            )),
        );
    }
}

/// 401, 403, 500 and 503: what every operation that needs a token can answer, as references to
/// the shared responses.
pub struct AuthenticatedErrors;

impl IntoResponses for AuthenticatedErrors {
    fn responses() -> BTreeMap<String, RefOr<ApiResponseDoc>> {
        SHARED_ERRORS
            .iter()
            .map(|(status, name, ..)| {
                (
                    status.to_string(),
                    RefOr::Ref(Ref::from_response_name(*name)),
                )
            })
            .collect()
    }
}

/// The document as JSON, built once: it is the same for the life of the process.
pub fn json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the OpenAPI document serializes")
    })
}

/// `GET /api/openapi.json`: this document (plain JSON, not an envelope: it is read by tools).
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This OpenAPI document",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json"),
    )
)]
pub async fn document() -> Response {
    ([(CONTENT_TYPE, "application/json")], json()).into_response()
}
