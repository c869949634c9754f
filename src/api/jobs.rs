//! `GET /api/jobs/{id}` (scope `job:read`): a job is visible to its legal entity only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use sqlx::Row;

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::Caller;
use crate::app::AppState;
use crate::jobs::JobView;

const NOT_FOUND: &str = "Job not found";

pub async fn show(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["job:read"])?;
    if id.len() != 24 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::not_found(NOT_FOUND));
    }
    let row = sqlx::query(
        "SELECT id, status, status_code, eta, links, response_data, error FROM jobs \
         WHERE id = $1 AND legal_entity_id = $2",
    )
    .bind(&id)
    .bind(caller.identity.client_id)
    .fetch_optional(&app.pool)
    .await?
    .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    let view = JobView {
        id: row.get("id"),
        status: row.get("status"),
        status_code: row.get("status_code"),
        eta: row.get("eta"),
        links: row.get("links"),
        response_data: row.get("response_data"),
        error: row.get("error"),
    };
    let (status, data, location) = view.render();
    let mut response = ApiResponse::new(status, data);
    if let Some(location) = location {
        response = response.with_header(LOCATION, &location);
    }
    Ok(response)
}
