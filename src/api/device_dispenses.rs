//! Device dispenses: Stop (async) and the read endpoint.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use ehealth_aggregates::device_dispense::DeviceDispenseCommand;
use ehealth_aggregates::DeviceDispense;

use super::actions::{self, ActionRequest};
use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::{path_id, Caller};
use super::legal_entity;
use crate::app::AppState;

pub(super) const NOT_FOUND: &str = "Device dispense not found";

/// `PATCH /api/patients/{patient_id}/device_dispenses/{id}/actions/stop`
/// (scope `device_dispense:stop`, async).
pub async fn stop(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path((patient_id, id)): Path<(String, String)>,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["device_dispense:stop"])?;
    let identity = &caller.identity;
    legal_entity::require_allowed_for_device_dispense(&app, identity.client_id).await?;
    let patient_id = path_id(&patient_id, NOT_FOUND)?;
    let id = path_id(&id, NOT_FOUND)?;
    let command = DeviceDispenseCommand::Stop {
        patient_id,
        legal_entity_id: identity.client_id,
        user_id: identity.user_id,
        at: actions::now(),
    };
    let req = ActionRequest {
        caller: &caller,
        method: "PATCH",
        path: format!("/api/patients/{patient_id}/device_dispenses/{id}/actions/stop"),
        body: &[],
        job_action: Some("stop_device_dispense"),
    };
    Ok(actions::run::<DeviceDispense>(&app, req, id, command)
        .await?
        .into_accepted())
}

/// `GET /api/patients/{patient_id}/device_dispenses/{id}` (scope `device_dispense:read`): only the
/// performer legal entity sees it.
pub async fn show(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path((patient_id, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["device_dispense:read"])?;
    let point = super::time_travel::requested(query.as_deref())?;
    let patient_id = path_id(&patient_id, NOT_FOUND)?;
    let id = path_id(&id, NOT_FOUND)?;
    let dd: DeviceDispense = super::read::document(&app, "device_dispenses", id)
        .await?
        .unwrap_or_default();
    let record = dd
        .record
        .filter(|r| {
            r.patient_id == patient_id && r.performer_legal_entity == caller.identity.client_id
        })
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    // Time travel: visibility was judged on the current state above; the past state is replayed.
    let record = match point {
        None => record,
        Some(point) => super::time_travel::replay::<DeviceDispense>(&app, id, point)
            .await?
            .and_then(|past| past.record)
            .ok_or_else(|| ApiError::not_found(NOT_FOUND))?,
    };
    Ok(ApiResponse::ok(record.render()))
}
