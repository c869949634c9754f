//! The Event Manager API over the `status_change_events` feed: `GET /api/events`
//! with eHealth's filters and paging, and `GET /api/events/{id}`, scope `event:read`.
//!
//! Tenancy: a legal entity sees the records of the entities it may read — a service request it
//! requested or uses, a merge request created there, a device dispense it performed, an approval it
//! owns, a care plan activity of a care plan it manages or that it changed — judged on the
//! entity's current projection row, like every read endpoint. A legal entity that released a
//! service request it used keeps seeing it, and its past records, through the row's
//! `released_by_legal_entity_ids`.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use serde_json::{json, Value};
use uuid::Uuid;

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::{path_id, Caller};
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use super::query_params::{
    self, invalid_entry, refused, DateOrInstant, Page, PageParams, QueryParams,
};
use crate::app::AppState;
use crate::store::{StatusChange, StatusChangeFilter};

const SCOPE: &str = "event:read";
const NOT_FOUND: &str = "Event not found";
const ATTRIBUTE_NAME_REQUIRED: &str = "attribute_name must be set";
const PARAMETERS: [&str; 8] = [
    "date",
    "event_type",
    "entity_type",
    "entity_id",
    "attribute_name",
    "new_value",
    "page",
    "page_size",
];

/// The filters of `GET /api/events`, for the OpenAPI document only: [`Filter::parse`] parses them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // never constructed: the derive reads the declaration
struct FilterParams {
    /// Records with `event_time` at or after this date (midnight UTC) or instant.
    #[param(value_type = Option<DateOrInstant>)]
    date: Option<String>,
    /// Equal to (`StatusChangeEvent`).
    #[param(pattern = "^[^\\u0000]*$")]
    event_type: Option<String>,
    /// Equal to: `ServiceRequest`, `MergeRequest`, `DeviceDispense`, `Approval`,
    /// `CarePlanActivity`.
    #[param(pattern = "^[^\\u0000]*$")]
    entity_type: Option<String>,
    /// Records of this entity.
    entity_id: Option<Uuid>,
    /// Records whose `properties` have this key (`status`, `program_processing_status`).
    #[param(pattern = "^[^\\u0000]*$")]
    attribute_name: Option<String>,
    /// `properties.<attribute_name>.new_value` equals it; needs `attribute_name`.
    #[param(pattern = "^[^\\u0000]*$")]
    new_value: Option<String>,
}

/// The filters of `GET /api/events`, validated; every refused parameter is reported at once.
fn parse(raw_query: Option<&str>) -> Result<(StatusChangeFilter, Page), ApiError> {
    let (params, mut invalid) = QueryParams::parse(raw_query, &PARAMETERS);
    let params = &params;
    let mut filter = StatusChangeFilter {
        event_type: params.get("event_type").map(str::to_string),
        entity_type: params.get("entity_type").map(str::to_string),
        attribute_name: params.get("attribute_name").map(str::to_string),
        new_value: params.get("new_value").map(str::to_string),
        ..StatusChangeFilter::default()
    };
    if let Some(raw) = params.get("date") {
        match query_params::date_or_instant(raw) {
            Some(t) => filter.since = Some(t),
            None => invalid.push(invalid_entry(
                "date",
                "date",
                "expected a date (YYYY-MM-DD) or an RFC 3339 date-time",
                json!(["date", "datetime"]),
            )),
        }
    }
    if let Some(raw) = params.get("entity_id") {
        match query_params::uuid(raw) {
            Some(id) => filter.entity_id = Some(id),
            None => invalid.push(invalid_entry(
                "entity_id",
                "uuid",
                "expected a uuid",
                json!(["uuid"]),
            )),
        }
    }
    if filter.new_value.is_some() && filter.attribute_name.is_none() {
        invalid.push(invalid_entry(
            "attribute_name",
            "required",
            ATTRIBUTE_NAME_REQUIRED,
            json!([]),
        ));
    }
    let page = Page::from_params(params, &mut invalid);
    if invalid.is_empty() {
        Ok((filter, page))
    } else {
        Err(refused(invalid))
    }
}

/// A record in eHealth's Event Manager shape.
fn render(record: StatusChange) -> Value {
    json!({
        "id": record.id,
        "event_type": record.event_type,
        "entity_type": record.entity_type,
        "entity_id": record.entity_id,
        "properties": record.properties,
        "event_time": record.event_time,
        "changed_by": record.changed_by,
    })
}

/// `GET /api/events`: the caller's visible records, oldest first (`event_time`, then the position in
/// the event log), one page at a time.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "audit",
    operation_id = "list_events",
    summary = "The Event Manager feed",
    description = "`StatusChangeEvent` records (one per change of `status` or \
`program_processing_status`) of the entities the caller's legal entity may read, ordered by \
`event_time`, then by position in the event log; filters combine with AND.",
    params(FilterParams, PageParams),
    security(("bearer" = ["event:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "A page of records", body = doc::StatusChangeEventList),
        (status = 422, description = "A malformed `date`, `entity_id`, `page` or `page_size`, `new_value` without `attribute_name`, another query parameter, a repeated one, or a too long Idempotency-Key", body = doc::ErrorEnvelope),
    )
)]
pub async fn list(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<ApiResponse, ApiError> {
    caller.require(&[SCOPE])?;
    let (filter, page) = parse(query.as_deref())?;
    let legal_entity = caller.identity.client_id;

    // The count and the page in one statement, so both describe the same snapshot of the feed.
    let (total, records) = app
        .store
        .audit
        .status_changes(&filter, legal_entity, page.size, page.offset())
        .await?;
    let data: Vec<Value> = records.into_iter().map(render).collect();
    let mut response = ApiResponse::ok(Value::Array(data));
    response.body.insert("paging".into(), page.paging(total));
    Ok(response)
}

/// `GET /api/events/{id}`: 404 for an unknown, malformed or invisible id alike, so ids of other
/// legal entities' records cannot be probed.
#[utoipa::path(
    get,
    path = "/api/events/{id}",
    tag = "audit",
    operation_id = "get_event",
    summary = "One Event Manager record",
    params(
        ("id" = Uuid, Path, description = "Record id"),
    ),
    security(("bearer" = ["event:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "The record", body = doc::StatusChangeEventEnvelope),
        (status = 404, description = "`Event not found`: unknown, malformed or not visible", body = doc::ErrorEnvelope),
        (status = 422, description = "Idempotency-Key longer than 255 characters", body = doc::ErrorEnvelope),
    )
)]
pub async fn show(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    caller.require(&[SCOPE])?;
    let id = path_id(&id, NOT_FOUND)?;
    let legal_entity = caller.identity.client_id;
    let record = app
        .store
        .audit
        .status_change(id, legal_entity)
        .await?
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    Ok(ApiResponse::ok(render(record)))
}
