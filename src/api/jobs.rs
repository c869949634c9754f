//! `GET /api/jobs/{id}` (scope `job:read`): a job is visible to its legal entity only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use uuid::Uuid;

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::Caller;
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use crate::app::AppState;
use crate::jobs::JobView;
use crate::store::JobQuery;

const NOT_FOUND: &str = "Job not found";

#[utoipa::path(
    get,
    path = "/api/jobs/{id}",
    tag = "jobs",
    operation_id = "get_job",
    summary = "An async job",
    description = "Pending: 200 with a link to itself. Processed with a link (release, recall, \
stop): 303 with `Location` of the changed entity. Processed with data (resend): 200 with \
`response_data: \"\"`. Failed: 200 with `error`. Visible to the legal entity that started it.",
    params(
        ("id" = String, Path, pattern = "^[0-9a-fA-F]{24}$", description = "Job id: 24 hex characters", example = "0b3aa308441779e9602a2c28"),
    ),
    security(("bearer" = ["job:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "Pending, processed with data, or failed", body = doc::JobEnvelope),
        (status = 303, description = "Processed; `Location` names the changed entity", body = doc::JobEnvelope,
            headers(("Location" = String, description = "The entity the job changed, e.g. `/api/patients/…/service_requests/…`"))),
        (status = 404, description = "`Job not found`: unknown, malformed or another legal entity's", body = doc::ErrorEnvelope),
        (status = 422, description = "Idempotency-Key longer than 255 characters", body = doc::ErrorEnvelope),
    )
)]
pub async fn show(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["job:read"])?;
    if id.len() != 24 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::not_found(NOT_FOUND));
    }
    let view = read(&app, JobQuery::Id(&id), caller.identity.client_id)
        .await?
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    Ok(respond(&view))
}

/// A job of `legal_entity` (the only one that may read it).
pub(super) async fn read(
    app: &AppState,
    job: JobQuery<'_>,
    legal_entity: Uuid,
) -> Result<Option<JobView>, sqlx::Error> {
    app.store.jobs.find(job, legal_entity).await
}

/// The answer of `GET /api/jobs/{id}` for a job.
pub(super) fn respond(view: &JobView) -> ApiResponse {
    let (status, data, location) = view.render();
    let mut response = ApiResponse::new(status, data);
    if let Some(location) = location {
        response = response.with_header(LOCATION, &location);
    }
    response
}
