//! Liveness, readiness and metrics for operators. No authentication: these answer only whether
//! the service can work and how it is doing, never data.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::envelope::ApiResponse;
use super::openapi::schemas as doc;
use crate::app::AppState;
use crate::db::Db;
use crate::metrics::{RequestLabels, RouteLabels};
use crate::store::feed;
use crate::workers::effects::SUBSCRIBER;

/// `GET /health/live`: the process answers.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "operations",
    operation_id = "health_live",
    summary = "Liveness",
    responses((status = 200, description = "The process serves", body = doc::LiveEnvelope))
)]
pub async fn live() -> ApiResponse {
    ApiResponse::ok(json!({ "status": "ok" }))
}

async fn feed_lag(app: &AppState) -> Result<i64, sqlx::Error> {
    match &app.db {
        Db::Postgres(pool) => feed::lag(&mut *pool.acquire().await?, SUBSCRIBER).await,
        Db::Sqlite(lite) => feed::sqlite::lag(&mut *lite.pool.acquire().await?, SUBSCRIBER).await,
    }
}

/// `GET /health/ready`: the database answers within 2 s and the effects worker is no more than
/// `EHEALTH_READY_MAX_LAG` events behind; 503 otherwise.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    operation_id = "health_ready",
    summary = "Readiness",
    responses(
        (status = 200, description = "The database answers within 2 s and the effects worker is at most `EHEALTH_READY_MAX_LAG` events behind", body = doc::ReadyEnvelope),
        (status = 503, description = "Not ready: the database is unreachable or slow, or the worker lags too far", body = doc::ReadyEnvelope),
    )
)]
pub async fn ready(State(app): State<Arc<AppState>>) -> ApiResponse {
    let probe = tokio::time::timeout(Duration::from_secs(2), feed_lag(&app)).await;
    let (database, lag) = match probe {
        Ok(Ok(lag)) => ("ok", Some(lag)),
        Ok(Err(_)) => ("unreachable", None),
        Err(_) => ("timeout", None),
    };
    let lag_ok = lag.is_some_and(|l| l <= app.ready_max_lag);
    let status = if database == "ok" && lag_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    ApiResponse::new(
        status,
        json!({
            "status": if status == StatusCode::OK { "ok" } else { "unavailable" },
            "database": database,
            "feed_lag": lag,
            "feed_lag_limit": app.ready_max_lag,
        }),
    )
}

/// `GET /metrics`: Prometheus text format. Gauges that live in the database are read now.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "OpenMetrics text: `ehealth_http_requests_total{method,route,status}`, \
`ehealth_http_request_duration_seconds{method,route}`, `ehealth_commands_total{aggregate,outcome}`, \
`ehealth_command_duration_seconds{aggregate}`, `ehealth_command_conflict_retries_total{aggregate}`, \
`ehealth_feed_lag_events`, `ehealth_jobs_pending`.",
    responses((status = 200, description = "The metrics", body = String, content_type = "application/openmetrics-text"))
)]
pub async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    let metrics = app.bus.metrics();
    if let Ok(Ok(lag)) = tokio::time::timeout(Duration::from_secs(2), feed_lag(&app)).await {
        metrics.feed_lag.set(lag);
    }
    const PENDING: &str = "SELECT count(*) FROM jobs WHERE status = 'pending'";
    let pending = match &app.db {
        Db::Postgres(pool) => sqlx::query_scalar::<_, i64>(PENDING).fetch_one(pool).await,
        Db::Sqlite(lite) => {
            sqlx::query_scalar::<_, i64>(PENDING)
                .fetch_one(&lite.pool)
                .await
        }
    };
    if let Ok(pending) = pending {
        metrics.jobs_pending.set(pending);
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// Counts every answer by route template (never the raw path, so ids do not explode the label
/// space) and status, and times it.
pub async fn record(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let metrics = app.bus.metrics();
    metrics
        .request_seconds
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
