//! Jobs, health and readiness.

// Never constructed: the derives read the declarations, nothing else does.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Processed,
    Failed,
    FailedWithError,
}

/// An async job. Pending: `links` to itself. Processed with a link (release, recall, stop): 303
/// with `links` to the changed entity. Processed with data (resend): `response_data`. Failed:
/// `error`.
#[derive(ToSchema)]
#[schema(example = json!({ "status": "pending", "eta": "2026-11-23T05:21:13.480015Z",
                           "links": [ { "entity": "job", "href": "/api/jobs/0b3aa308441779e9602a2c28" } ] }))]
pub struct Job {
    status: JobStatus,
    /// When the client may expect the result (absent only from the replayed answer of a retried
    /// request whose first answer could not be read back).
    eta: Option<DateTime<Utc>>,
    /// The HTTP status of the finished processing (absent while pending).
    status_code: Option<i32>,
    links: Option<Vec<JobLink>>,
    /// Processed jobs without a link: `""` for resend.
    #[schema(value_type = Value, required = false)]
    response_data: Option<Value>,
    /// `{type, message}` of a failed job.
    #[schema(value_type = Value, required = false)]
    error: Option<Value>,
}

#[derive(ToSchema)]
pub struct JobLink {
    /// `job`, `service_request`, `device_dispense`.
    entity: String,
    /// A path under this service, e.g. `/api/jobs/<24 hex>`.
    href: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Liveness {
    Ok,
}

#[derive(ToSchema)]
pub struct Live {
    status: Liveness,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ok,
    Unavailable,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DatabaseStatus {
    Ok,
    Unreachable,
    Timeout,
}

#[derive(ToSchema)]
pub struct Ready {
    status: ReadyStatus,
    database: DatabaseStatus,
    /// Events the effects worker has not processed yet; `null` when the database did not answer.
    #[schema(required = true)]
    feed_lag: Option<i64>,
    /// `EHEALTH_READY_MAX_LAG`.
    feed_lag_limit: i64,
}
