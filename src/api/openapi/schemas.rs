//! Documentation-only types: the shapes the handlers build as `serde_json::Value`, described for
//! the OpenAPI document. Nothing constructs them; they exist so that utoipa can derive schemas
//! from real Rust declarations next to the API instead of from hand-written JSON.
//!
//! Entity schemas name the fields the service renders itself and leave the object open
//! (`additionalProperties` is not restricted), because fields the import carried but the service
//! does not interpret are rendered back unchanged.

// Never constructed: the derives read the declarations, nothing else does.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// `meta` of every envelope (ehealth-notes §1.2).
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

/// The `error` object (ehealth-notes §1.3).
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

/// eHealth's reference to another resource.
#[derive(ToSchema)]
#[schema(example = json!({ "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "employee" } ] },
                                           "value": "44444444-4444-4444-8444-444444444444" } }))]
pub struct Reference {
    identifier: Identifier,
}

#[derive(ToSchema)]
pub struct Identifier {
    #[schema(rename = "type")]
    kind: CodeableConcept,
    value: Uuid,
}

#[derive(ToSchema)]
pub struct CodeableConcept {
    coding: Vec<Coding>,
}

#[derive(ToSchema)]
pub struct Coding {
    system: String,
    code: String,
}

// ----- entities -----

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ServiceRequestStatus {
    Active,
    InProgress,
    Completed,
    Recalled,
    EnteredInError,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ProgramProcessingStatus {
    New,
    InQueue,
    InProgress,
    Completed,
}

/// A service request as eHealth renders it; other imported fields (`requisition`, `intent`, …)
/// are rendered back unchanged.
#[derive(ToSchema)]
pub struct ServiceRequest {
    id: Uuid,
    status: ServiceRequestStatus,
    #[schema(required = true)]
    program_processing_status: Option<ProgramProcessingStatus>,
    /// The patient.
    subject: Reference,
    #[schema(required = true)]
    requester_employee: Option<Reference>,
    #[schema(required = true)]
    requester_legal_entity: Option<Reference>,
    #[schema(required = true)]
    used_by_employee: Option<Reference>,
    #[schema(required = true)]
    used_by_legal_entity: Option<Reference>,
    /// `{coding: [{system: "eHealth/service_request_recall_reasons", code}]}` once recalled.
    #[schema(required = true, value_type = Option<Object>)]
    status_reason: Option<Value>,
    #[schema(required = true)]
    explanatory_letter: Option<String>,
    status_history: Vec<StatusHistoryEntry>,
    inserted_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(ToSchema)]
pub struct StatusHistoryEntry {
    status: ServiceRequestStatus,
    #[schema(value_type = Option<Object>)]
    status_reason: Option<Value>,
    inserted_at: DateTime<Utc>,
    inserted_by: Option<Uuid>,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MergeRequestStatus {
    New,
    Approved,
    Rejected,
    Cancelled,
    Signed,
    Merged,
    Expired,
}

/// A merge request (MPI preperson merge).
#[derive(ToSchema)]
pub struct MergeRequest {
    id: Uuid,
    master_person_id: Uuid,
    merge_person_id: Uuid,
    status: MergeRequestStatus,
    /// The legal entity where it was created; the only one that sees it.
    legal_entity_id: Uuid,
    inserted_at: DateTime<Utc>,
    /// The user who created it; only they may reject it.
    inserted_by: Uuid,
    updated_at: DateTime<Utc>,
    updated_by: Uuid,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DeviceDispenseStatus {
    InProgress,
    Completed,
    Declined,
    Stopped,
    EnteredInError,
    Unknown,
    Preparation,
    Canceled,
}

/// A device dispense; other imported fields (`details`, …) are rendered back unchanged.
#[derive(ToSchema)]
pub struct DeviceDispense {
    id: Uuid,
    status: DeviceDispenseStatus,
    /// The patient.
    subject: Reference,
    /// The legal entity that performed it; the only one that sees or stops it.
    performer_legal_entity: Reference,
    #[schema(required = true)]
    performer: Option<Reference>,
    inserted_at: DateTime<Utc>,
    #[schema(required = true)]
    inserted_by: Option<Uuid>,
    updated_at: DateTime<Utc>,
    #[schema(required = true)]
    updated_by: Option<Uuid>,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ApprovalStatus {
    New,
    Active,
    Rejected,
    Cancelled,
    Expired,
}

/// A patient's approval (consent) for an employee; other imported fields are rendered back
/// unchanged.
#[derive(ToSchema)]
pub struct Approval {
    id: Uuid,
    status: ApprovalStatus,
    /// The service request it was made for.
    #[schema(required = true)]
    reason: Option<Reference>,
    /// The employee who is granted access.
    #[schema(required = true)]
    granted_to: Option<Reference>,
    /// The person's authentication method chosen at creation.
    #[schema(required = true)]
    authorize_with: Option<Uuid>,
    /// The method the last resent code went to, the phone masked; absent before any resend.
    authentication_method_current: Option<AuthenticationMethodCurrent>,
    inserted_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(ToSchema)]
pub struct AuthenticationMethodCurrent {
    /// `OTP` or `THIRD_PERSON`.
    #[schema(rename = "type")]
    kind: String,
    /// Masked: `+38093*****85`.
    number: String,
}

// ----- jobs -----

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

// ----- audit -----

/// One Event Manager record (`StatusChangeEvent`).
#[derive(ToSchema)]
#[schema(example = json!({ "id": "9e1c3f0a-0d7b-5c6e-8f0a-1b2c3d4e5f60", "event_type": "StatusChangeEvent",
                           "entity_type": "MergeRequest", "entity_id": "77777777-7777-4777-8777-777777777777",
                           "properties": { "status": { "new_value": "REJECTED" } },
                           "event_time": "2026-01-02T10:00:00.123456Z", "changed_by": "33333333-3333-4333-8333-333333333333" }))]
pub struct StatusChangeEvent {
    id: Uuid,
    /// Always `StatusChangeEvent`.
    event_type: String,
    /// `ServiceRequest`, `MergeRequest`, `DeviceDispense`, `Approval` or `CarePlanActivity`.
    entity_type: String,
    entity_id: Uuid,
    /// The changed attributes: `{"<attribute>": {"new_value": <value or null>}}`.
    #[schema(value_type = Object)]
    properties: Value,
    event_time: DateTime<Utc>,
    /// The user who made the change.
    changed_by: Uuid,
}

/// One event of an entity's history.
#[derive(ToSchema)]
pub struct HistoryEntry {
    /// The event's sequence within the entity (its `version`), from 1.
    #[schema(minimum = 1)]
    sequence: i64,
    /// The event's position in the whole event log.
    global_position: i64,
    event_type: String,
    event_version: String,
    /// The event's data without the enum tag, salts redacted and phones masked.
    #[schema(value_type = Value)]
    payload: Value,
    recorded_at: DateTime<Utc>,
    authority: Authority,
}

/// Who recorded an event and through what (from its metadata); `null` where not recorded.
#[derive(ToSchema)]
pub struct Authority {
    #[schema(required = true)]
    user_id: Option<Uuid>,
    /// The token's `client_id`.
    #[schema(required = true)]
    legal_entity_id: Option<Uuid>,
    #[schema(required = true)]
    request_id: Option<String>,
    #[schema(required = true)]
    command_id: Option<String>,
    #[schema(required = true)]
    correlation_id: Option<String>,
    #[schema(required = true)]
    causation_id: Option<String>,
    #[schema(required = true)]
    job_id: Option<String>,
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

// ----- bodies -----

/// The body of Recall: exactly this one property.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallRequest {
    /// Base64 of a DER CMS/PKCS#7 SignedData envelope with the content attached (the service
    /// request as the read endpoint renders it, with `status_reason` set to the recall reason).
    #[schema(min_length = 1)]
    signed_data: String,
}

// ----- operations -----

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

// ----- envelopes (one per `data` shape, so each has a readable name) -----

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
