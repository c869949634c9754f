//! The envelope every answer has, errors, paging, and one named envelope per `data` shape.

// Never constructed: the derives read the declarations, nothing else does.
#![allow(dead_code)]

use serde_json::Value;
use utoipa::ToSchema;

use super::audit::{HistoryEntry, StatusChangeEvent};
use super::entities::{Approval, DeviceDispense, MergeRequest, ServiceRequest};
use super::operations::{Job, Live, Ready};

/// `meta` of every envelope, as eHealth answers it.
#[derive(ToSchema)]
pub struct Meta {
    /// The requested URL: `http://<Host header><path>`, without the query string.
    #[schema(
        example = "http://127.0.0.1:8080/api/merge_requests/77777777-7777-4777-8777-777777777777"
    )]
    url: String,
    /// `list` when `data` is an array, else `object` (also for errors).
    #[schema(rename = "type")]
    kind: MetaType,
    /// The HTTP status of the answer.
    #[schema(minimum = 100, maximum = 599, example = 200)]
    code: u16,
    /// The `x-request-id` request header (at most 200 characters) or a generated uuid; also echoed
    /// in the `x-request-id` response header.
    #[schema(example = "0b9a4b4e-6f5a-4d8e-9b8a-3f3c2f1d0e6a")]
    request_id: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MetaType {
    Object,
    List,
}

/// Every error answer: `{meta, error}`.
#[derive(ToSchema)]
#[schema(example = json!({
    "meta": { "url": "http://127.0.0.1:8080/api/service_requests/66666666-6666-4666-8666-666666666666/actions/release",
              "type": "object", "code": 409, "request_id": "0b9a4b4e-6f5a-4d8e-9b8a-3f3c2f1d0e6a" },
    "error": { "type": "request_conflict", "message": "Invalid service request status" }
}))]
pub struct ErrorEnvelope {
    meta: Meta,
    error: Error,
}

/// The `error` object, as eHealth answers it.
#[derive(ToSchema)]
pub struct Error {
    /// The kind of error; one per status (`request_malformed` 400, `access_denied` 401,
    /// `forbidden` 403, `not_found` 404, `method_not_allowed` 405, `request_conflict` 409,
    /// `request_too_large` 413, `content_type_invalid` 415, `validation_failed` 422,
    /// `too_many_requests` 429, `internal_error` 5xx).
    #[schema(rename = "type")]
    kind: ErrorType,
    /// A human-readable text; the rule's own text when a single rule failed.
    message: String,
    /// The failed validation rules, for 422 (and 400 `request_malformed` of a corrupted JSON body).
    invalid: Option<Vec<InvalidEntry>>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ErrorType {
    RequestMalformed,
    AccessDenied,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestConflict,
    RequestTooLarge,
    ContentTypeInvalid,
    ValidationFailed,
    TooManyRequests,
    InternalError,
}

/// One `invalid[]` entry: what was refused and by which rules.
#[derive(ToSchema)]
#[schema(example = json!({
    "entry_type": "query_parameter", "entry": "status",
    "rules": [ { "rule": "inclusion", "description": "value is not allowed in enum", "params": ["active", "recalled"] } ]
}))]
pub struct InvalidEntry {
    /// `json_data_property` (a body property or a header), `query_parameter`, or `request` (the
    /// body as a whole could not be parsed).
    entry_type: String,
    /// A JSON path (`$.signed_data`, `$.headers.idempotency-key`) or a query parameter name;
    /// absent for `entry_type: request`.
    entry: Option<String>,
    rules: Vec<InvalidRule>,
}

#[derive(ToSchema)]
pub struct InvalidRule {
    /// `required`, `cast`, `length`, `schema`, `inclusion`, `uuid`, `date`, `number`, `invalid`,
    /// `unique`, `oneOf`, `json`.
    rule: String,
    description: Option<String>,
    /// The rule's parameters: allowed values, bounds, formats (an array, an object or null).
    #[schema(value_type = Value, required = false)]
    params: Option<Value>,
}

/// eHealth's page-number paging (Event Manager, history).
#[derive(ToSchema)]
pub struct PagePaging {
    #[schema(minimum = 1)]
    page_number: i64,
    #[schema(minimum = 1, maximum = 500)]
    page_size: i64,
    #[schema(minimum = 0)]
    total_entries: i64,
    /// At least 1, also for an empty result.
    #[schema(minimum = 1)]
    total_pages: i64,
}

/// Cursor paging of the analyst lists.
#[derive(ToSchema)]
pub struct CursorPaging {
    #[schema(minimum = 1, maximum = 500)]
    limit: i64,
    /// Pass back as `cursor` for the next page; `null` on the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
    has_more: bool,
}

macro_rules! envelope {
    ($(#[$doc:meta])* $name:ident, $data:ty) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        pub struct $name {
            meta: Meta,
            data: $data,
        }
    };
    ($(#[$doc:meta])* $name:ident, $data:ty, $paging:ty) => {
        $(#[$doc])*
        #[derive(ToSchema)]
        pub struct $name {
            meta: Meta,
            data: $data,
            paging: $paging,
        }
    };
}

envelope!(
    /// `{meta, data}` with a service request.
    ServiceRequestEnvelope,
    ServiceRequest
);
envelope!(
    /// `{meta, data}` with a merge request.
    MergeRequestEnvelope,
    MergeRequest
);
envelope!(
    /// `{meta, data}` with a device dispense.
    DeviceDispenseEnvelope,
    DeviceDispense
);
envelope!(
    /// `{meta, data}` with an approval.
    ApprovalEnvelope,
    Approval
);
envelope!(
    /// `{meta, data}` with a job: the 202 of an async action and `GET /api/jobs/{id}`.
    JobEnvelope,
    Job
);
envelope!(
    /// `{meta, data}` with an Event Manager record.
    StatusChangeEventEnvelope,
    StatusChangeEvent
);
envelope!(
    /// `{meta, data, paging}`: a page of the Event Manager feed.
    StatusChangeEventList,
    Vec<StatusChangeEvent>,
    PagePaging
);
envelope!(
    /// `{meta, data, paging}`: a page of an entity's history.
    HistoryList,
    Vec<HistoryEntry>,
    PagePaging
);
envelope!(
    /// `{meta, data, paging}`: a page of service requests.
    ServiceRequestList,
    Vec<ServiceRequest>,
    CursorPaging
);
envelope!(
    /// `{meta, data, paging}`: a page of merge requests.
    MergeRequestList,
    Vec<MergeRequest>,
    CursorPaging
);
envelope!(
    /// `{meta, data, paging}`: a page of device dispenses.
    DeviceDispenseList,
    Vec<DeviceDispense>,
    CursorPaging
);
envelope!(
    /// `{meta, data}` of `GET /health/live`.
    LiveEnvelope,
    Live
);
envelope!(
    /// `{meta, data}` of `GET /health/ready`.
    ReadyEnvelope,
    Ready
);
