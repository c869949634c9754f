//! The HTTP API (axum): the five actions, the read endpoints and jobs, under `/api`; its OpenAPI
//! document at `/api/openapi.json` (see [`openapi`]).

pub mod actions;
mod approvals;
mod caller_facts;
mod device_dispenses;
pub mod envelope;
pub mod error;
mod events;
mod extract;
mod health;
mod history;
mod jobs;
mod lists;
mod merge_requests;
mod openapi;
mod query_params;
mod read;
mod read_endpoints;
mod service_requests;
mod time_travel;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::AppState;
use error::ApiError;

async fn not_found() -> ApiError {
    ApiError::not_found("Route not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("handler panicked");
    axum::response::IntoResponse::into_response(ApiError::internal())
}

pub use health::refresh_gauges;

/// Answers 503 with `Retry-After` when a request outlives `deadline`; an action's answer says it
/// may have been carried out all the same (its command runs to completion in a task of its own).
async fn deadline(
    axum::extract::State(deadline): axum::extract::State<std::time::Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let action = request.method() == axum::http::Method::PATCH;
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::debug!(action, "request outlived its deadline");
            axum::response::IntoResponse::into_response(ApiError::timed_out(action))
        }
    }
}

pub fn router(
    state: Arc<AppState>,
    body_limit: usize,
    request_timeout: std::time::Duration,
) -> Router {
    Router::new()
        .route("/api/service_requests", get(lists::service_requests))
        .route("/api/merge_requests", get(lists::merge_requests))
        .route("/api/device_dispenses", get(lists::device_dispenses))
        .route(
            "/api/service_requests/{id}/actions/release",
            patch(service_requests::release),
        )
        .route(
            "/api/patients/{patient_id}/service_requests/{id}/actions/recall",
            patch(service_requests::recall),
        )
        .route(
            "/api/patients/{patient_id}/service_requests/{id}",
            get(read_endpoints::service_request::show),
        )
        .route(
            "/api/merge_requests/{id}/actions/reject",
            patch(merge_requests::reject),
        )
        .route(
            "/api/merge_requests/{id}",
            get(read_endpoints::merge_request::show),
        )
        .route(
            "/api/patients/{patient_id}/device_dispenses/{id}/actions/stop",
            patch(device_dispenses::stop),
        )
        .route(
            "/api/patients/{patient_id}/device_dispenses/{id}",
            get(read_endpoints::device_dispense::show),
        )
        .route(
            "/api/patients/{patient_id}/approvals/{id}/actions/resend",
            patch(approvals::resend),
        )
        .route(
            "/api/patients/{patient_id}/approvals/{id}",
            get(read_endpoints::approval::show),
        )
        .route("/api/jobs/{id}", get(jobs::show))
        .route("/api/events", get(events::list))
        .route("/api/events/{id}", get(events::show))
        .route(
            "/api/patients/{patient_id}/service_requests/{id}/history",
            get(read_endpoints::service_request::history),
        )
        .route(
            "/api/merge_requests/{id}/history",
            get(read_endpoints::merge_request::history),
        )
        .route(
            "/api/patients/{patient_id}/device_dispenses/{id}/history",
            get(read_endpoints::device_dispense::history),
        )
        .route(
            "/api/patients/{patient_id}/approvals/{id}/history",
            get(read_endpoints::approval::history),
        )
        .route(
            "/api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}",
            get(read_endpoints::care_plan_activity::show),
        )
        .route(
            "/api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}/history",
            get(read_endpoints::care_plan_activity::history),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/api/openapi.json", get(openapi::document))
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            health::record,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(envelope::envelope))
        .with_state(state)
}
