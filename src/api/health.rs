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
use crate::metrics::{RequestLabels, RouteLabels};
use crate::store::Probe;

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

/// How long a background reading of the gauges may take (a few round trips; over a slow link a
/// second or two).
const GAUGES_READ: Duration = Duration::from_secs(10);

/// How long the readiness probe may take in all (its connection's statements are bounded too).
/// It is one round trip on a kept connection: over a link of 200 ms each way it takes 400 ms.
const READY_PROBE: Duration = Duration::from_secs(2);

/// `GET /health/ready`: 503 unless the database answers a read and a write within the probe's
/// time on the connection kept for it, writes are not failing (a failed write keeps it 503 until
/// a write succeeds, at least for a few seconds), and the effects worker is no more than
/// `EHEALTH_READY_MAX_LAG` events behind.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "operations",
    operation_id = "health_ready",
    summary = "Readiness",
    responses(
        (status = 200, description = "The database answers a read and a write, writes succeed, and the effects worker is at most `EHEALTH_READY_MAX_LAG` events behind", body = doc::ReadyEnvelope),
        (status = 503, description = "Not ready: the database is unreachable or slow, cannot take writes, or the worker lags too far", body = doc::ReadyEnvelope),
    )
)]
pub async fn ready(State(app): State<Arc<AppState>>) -> ApiResponse {
    // The lag is the gauge's (refreshed every two seconds); read now only before its first
    // refresh.
    let known_lag = app.bus.metrics().feed_lag_known();
    // Before the gauge's first reading the lag is read beside the write, on the other connection
    // kept for health: over a slow link, one after the other could outlast the probe's time.
    let probe = async {
        let lag = async {
            match known_lag {
                Some(lag) => Ok(lag),
                None => app.probe.feed_lag().await,
            }
        };
        let ((), lag) = tokio::try_join!(app.probe.probe_write(), lag)?;
        Ok::<_, sqlx::Error>(lag)
    };
    let health = app.bus.health();
    let (database, lag) = match tokio::time::timeout(READY_PROBE, probe).await {
        // A probe write that succeeds does not clear a failure the commands met: a one-row update
        // fits where an append that must grow its tables does not (a full disk).
        Ok(Ok(lag)) => ("ok", Some(lag)),
        Ok(Err(err)) => {
            if crate::commands::database_unavailable(&err) {
                health.write_failed(&err.to_string());
            }
            ("unreachable", None)
        }
        Err(_) => ("timeout", None),
    };
    let writes = health.failing();
    let lag_ok = lag.is_some_and(|l| l <= app.ready_max_lag);
    let status = if database == "ok" && writes.is_none() && lag_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    ApiResponse::new(
        status,
        json!({
            "status": if status == StatusCode::OK { "ok" } else { "unavailable" },
            "database": database,
            "writes": if writes.is_some() { "failing" } else { "ok" },
            "writes_failure": writes,
            "feed_lag": lag,
            "feed_lag_limit": app.ready_max_lag,
        }),
    )
}

/// `GET /metrics`: Prometheus text format, from memory only: the gauges read from the database
/// are refreshed in the background ([`refresh_gauges`]), so a slow or unreachable database never
/// makes this wait.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "OpenMetrics text: `ehealth_http_requests_total{method,route,status}`, \
`ehealth_http_request_duration_seconds{method,route}`, `ehealth_commands_total{aggregate,outcome}`, \
`ehealth_command_duration_seconds{aggregate}`, `ehealth_command_conflict_retries_total{aggregate}`, \
`ehealth_feed_lag_events`, `ehealth_jobs_pending`, `ehealth_database_writes_failing`.",
    responses((status = 200, description = "The metrics", body = String, content_type = "application/openmetrics-text"))
)]
pub async fn metrics(State(app): State<Arc<AppState>>) -> Response {
    let metrics = app.bus.metrics();
    metrics
        .database_writes_failing
        .set(i64::from(app.bus.health().failing().is_some()));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// Every two seconds, on the connection kept for health: the feed lag and the pending jobs into
/// their gauges (a reading that takes too long is skipped, the gauge keeps its last value).
pub async fn refresh_gauges(
    probe: Arc<dyn Probe>,
    metrics: Arc<crate::metrics::Metrics>,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let read = async {
            let lag = probe.feed_lag().await?;
            let pending = probe.pending_jobs().await?;
            Ok::<_, sqlx::Error>((lag, pending))
        };
        let read = tracing::Instrument::instrument(read, tracing::info_span!("gauges_pass"));
        if let Ok(Ok((lag, pending))) = tokio::time::timeout(GAUGES_READ, read).await {
            metrics.set_feed_lag(lag);
            metrics.jobs_pending.set(pending);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
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
