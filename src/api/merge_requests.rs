//! Merge requests: Reject (sync); the read endpoints are in `read_endpoints`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ehealth_aggregates::caller::{employee, legal_entity};
use ehealth_aggregates::merge_request::MergeRequestCommand;
use ehealth_aggregates::MergeRequest;

use super::actions::{self, ActionRequest, Outcome};
use super::caller_facts as facts;
use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::{path_id, Caller};
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use crate::app::AppState;

pub(super) const NOT_FOUND: &str = "Merge request not found";

async fn render(app: &AppState, id: uuid::Uuid) -> Result<serde_json::Value, ApiError> {
    let mr: MergeRequest = super::read::document(app, "merge_requests", id)
        .await?
        .unwrap_or_default();
    mr.record
        .map(|r| r.render())
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))
}

/// `PATCH /api/merge_requests/{id}/actions/reject` (scope `merge_request:write`, sync).
#[utoipa::path(
    patch,
    path = "/api/merge_requests/{id}/actions/reject",
    tag = "actions",
    operation_id = "reject_merge_request",
    summary = "Reject a merge request",
    description = "Sets `status` to `REJECTED` and answers the entity. Checks in order: token (401), \
scope (403), the legal entity is EMERGENCY or OUTPATIENT and ACTIVE (409), the user is an APPROVED \
SPECIALIST, ASSISTANT or RECEPTIONIST employee there (403), the merge request exists (404), the \
user is its author (403), it was created in the caller's legal entity (422), `status` is NEW or \
APPROVED (409).",
    params(
        ("id" = uuid::Uuid, Path, description = "Merge request id", example = "77777777-7777-4777-8777-777777777777"),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, description = "A retry with the same key (same user, method, path and body) answers the first answer again"),
    ),
    security(("bearer" = ["merge_request:write"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "Rejected: the merge request", body = doc::MergeRequestEnvelope),
        (status = 403, description = "A missing scope, `Only SPECIALIST, ASSISTANT or RECEPTIONIST employees can reject merge requests` or `Only author of merge request is allowed to reject it`", body = doc::ErrorEnvelope),
        (status = 404, description = "`Merge request not found` (also for a non-uuid id)", body = doc::ErrorEnvelope),
        (status = 409, description = "`Action is not allowed for the legal entity`, `Invalid merge request status`, or a concurrent change", body = doc::ErrorEnvelope),
        (status = 422, description = "`User doesn't belong to legal entity where the merge request was created`, or the Idempotency-Key", body = doc::ErrorEnvelope),
    )
)]
pub async fn reject(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["merge_request:write"])?;
    let identity = &caller.identity;
    let le = facts::legal_entity(&app, identity.legal_entity()).await?;
    legal_entity::check_reject_merge_request(le.as_ref())?;
    let employees = facts::employees(&app, identity.user(), identity.legal_entity()).await?;
    employee::check_reject_merge_request(&employees)?;
    let id = path_id(&id, NOT_FOUND)?;
    let command = MergeRequestCommand::Reject {
        user_id: identity.user(),
        legal_entity_id: identity.legal_entity(),
        at: actions::now(),
    };
    let req = ActionRequest {
        caller: &caller,
        method: "PATCH",
        path: format!("/api/merge_requests/{id}/actions/reject"),
        body: &[],
        job: None,
    };
    match actions::run::<MergeRequest>(&app, req, id, command).await? {
        Outcome::Replayed(Some(answer)) => Ok(answer),
        Outcome::Replayed(None) => Ok(ApiResponse::ok(render(&app, id).await?)),
        Outcome::Executed { command_id, .. } => {
            // The state this command committed, as the commit left it in the state cache: no
            // read of the projection after the commit.
            let committed: MergeRequest = app.bus.load_cached(id).await?;
            let data = committed
                .record
                .map(|r| r.render())
                .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
            if let Some(command_id) = command_id {
                actions::remember_answer(&app, &command_id, StatusCode::OK, &data).await;
            }
            Ok(ApiResponse::ok(data))
        }
    }
}
