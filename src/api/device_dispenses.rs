//! Device dispenses: Stop (async); the read endpoints are in `read_endpoints`.

use std::sync::Arc;

use axum::extract::{Path, State};
use ehealth_aggregates::caller::legal_entity;
use ehealth_aggregates::device_dispense::DeviceDispenseCommand;
use ehealth_aggregates::DeviceDispense;

use super::actions::{self, ActionRequest};
use super::caller_facts as facts;
use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::{path_id, Caller};
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use crate::app::AppState;
use crate::jobs::JobSpec;

pub(super) const NOT_FOUND: &str = "Device dispense not found";

/// `PATCH /api/patients/{patient_id}/device_dispenses/{id}/actions/stop`
/// (scope `device_dispense:stop`, async).
#[utoipa::path(
    patch,
    path = "/api/patients/{patient_id}/device_dispenses/{id}/actions/stop",
    tag = "actions",
    operation_id = "stop_device_dispense",
    summary = "Stop a device dispense",
    description = "Sets `status` to `stopped`. Checks in order: token (401), scope (403), the same \
command's job is pending (200 with that job), the legal entity's type is allowed (409 `Invalid \
LegalEntity type`), it exists and is ACTIVE (409), the \
dispense exists for this patient (404), the caller's legal entity performed it (409), `status` is \
`in_progress` (409).",
    params(
        ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
        ("id" = uuid::Uuid, Path, description = "Device dispense id", example = "88888888-8888-4888-8888-888888888888"),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, description = "A retry with the same key (same user, method, path and body) answers the first answer again"),
    ),
    security(("bearer" = ["device_dispense:stop"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "The same command (user, legal entity, patient, dispense) is already under way: its job, as `GET /api/jobs/{id}` answers it", body = doc::JobEnvelope),
        (status = 202, description = "Stopped; the job tracks the processing", body = doc::JobEnvelope),
        (status = 404, description = "`Device dispense not found` (also for a non-uuid id)", body = doc::ErrorEnvelope),
        (status = 409, description = "`Invalid LegalEntity type`, `client_id refers to legal entity that is not active`, `Device dispense belongs to another legal entity`, `Device dispense in status <status> cannot be stopped`, or a concurrent change", body = doc::ErrorEnvelope),
        (status = 422, description = "Idempotency-Key longer than 255 characters, or already used for a different request", body = doc::ErrorEnvelope),
    )
)]
pub async fn stop(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path((patient_id, id)): Path<(String, String)>,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["device_dispense:stop"])?;
    let job = JobSpec::new("stop_device_dispense")
        .id("patient_id", &patient_id)
        .id("device_dispense_id", &id);
    if let Some(pending) = actions::pending_job(&app, &caller, &job).await? {
        return Ok(pending);
    }
    let identity = &caller.identity;
    facts::check_legal_entity(
        &app,
        identity.legal_entity(),
        legal_entity::check_stop_device_dispense,
    )
    .await?;
    let patient_id = path_id(&patient_id, NOT_FOUND)?;
    let id = path_id(&id, NOT_FOUND)?;
    let command = DeviceDispenseCommand::Stop {
        patient_id: patient_id.into(),
        legal_entity_id: identity.legal_entity(),
        user_id: identity.user(),
        at: actions::now(),
    };
    let req = ActionRequest {
        caller: &caller,
        method: "PATCH",
        path: format!("/api/patients/{patient_id}/device_dispenses/{id}/actions/stop"),
        body: &[],
        job: Some(job),
    };
    Ok(actions::run::<DeviceDispense>(&app, req, id, command)
        .await?
        .into_accepted())
}
