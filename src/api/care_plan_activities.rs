//! Care plan activities: the read endpoint and the history (scope `care_plan:read`).
//!
//! An activity is visible to its care plan's managing legal entity and to every legal entity on
//! whose behalf it was changed (a recall's give-back is done on behalf of the recalling legal
//! entity, which may then follow what its recall did). Anything else is 404, like an unknown id.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use ehealth_aggregates::CarePlanActivity;

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::Caller;
use super::openapi::care_plan_schemas as doc;
use super::openapi::schemas::ErrorEnvelope;
use super::openapi::AuthenticatedErrors;
use super::query_params::PageParams;
use super::time_travel::TimeTravelParams;
use crate::app::AppState;

pub(super) const NOT_FOUND: &str = "Care plan activity not found";

/// `GET /api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}`.
#[utoipa::path(
    get,
    path = "/api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}",
    tag = "entities",
    operation_id = "get_care_plan_activity",
    summary = "A care plan activity, now or in the past",
    description = "Visible to the care plan's managing legal entity and to every legal entity on \
whose behalf the activity was changed (a recall of a service request based on it gives its \
quantity back on behalf of the recalling legal entity). `as_of` or `version` answers the state \
it had then.",
    params(
        ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
        ("care_plan_id" = uuid::Uuid, Path, description = "The care plan id", example = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"),
        ("id" = uuid::Uuid, Path, description = "Care plan activity id", example = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"),
        TimeTravelParams,
    ),
    security(("bearer" = ["care_plan:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "The care plan activity", body = doc::CarePlanActivityEnvelope),
        (status = 404, description = "`Care plan activity not found`", body = ErrorEnvelope),
        (status = 422, description = "A malformed `as_of` or `version`, both at once, another query parameter, or a too long Idempotency-Key", body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path(path): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<ApiResponse, ApiError> {
    super::read::show::<CarePlanActivity>(&app, &caller, path, query.as_deref()).await
}

/// `GET /api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}/history`.
#[utoipa::path(
    get,
    path = "/api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}/history",
    tag = "audit",
    operation_id = "care_plan_activity_history",
    summary = "The history of a care plan activity",
    description = "Every event of the entity in sequence order, with its position in the log and \
the authority it was recorded on. Scope, visibility and 404 of the entity's read endpoint.",
    params(
        ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
        ("care_plan_id" = uuid::Uuid, Path, description = "The care plan id", example = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"),
        ("id" = uuid::Uuid, Path, description = "Care plan activity id", example = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"),
        PageParams,
    ),
    security(("bearer" = ["care_plan:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "A page of events", body = super::openapi::schemas::HistoryList),
        (status = 404, description = "`Care plan activity not found`", body = ErrorEnvelope),
        (status = 422, description = "A malformed `page` or `page_size`, another query parameter, a repeated one, or a too long Idempotency-Key", body = ErrorEnvelope),
    )
)]
pub async fn history(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path(path): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<ApiResponse, ApiError> {
    super::read::history::<CarePlanActivity>(&app, &caller, path, query.as_deref()).await
}
