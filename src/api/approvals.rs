//! Approvals: Resend SMS (async by server decision, DESIGN.md) and the read endpoint.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use ehealth_aggregates::approval::{ApprovalCommand, OtpDelivery};
use ehealth_aggregates::Approval;
use rand::RngCore;
use uuid::Uuid;

use super::actions::{self, ActionRequest};
use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::{path_id, Caller};
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use super::time_travel::TimeTravelParams;
use crate::app::AppState;
use crate::jobs::JobSpec;
use crate::reference::Person;

pub(super) const NOT_FOUND: &str = "Approval with such id is not found";
const PERSON_NOT_FOUND: &str = "Person not found";

/// Where the new code goes: the person's own OTP phone, or the phone of a THIRD_PERSON whose own
/// method is OTP; any other method may not resend.
async fn delivery(
    app: &AppState,
    person: &Person,
    authorize_with: Option<Uuid>,
) -> Result<OtpDelivery, ApiError> {
    let Some(method) = person.method(authorize_with) else {
        return Ok(OtpDelivery::NotAllowed {
            method_type: "NA".into(),
        });
    };
    match (method.kind.as_str(), &method.phone_number) {
        ("OTP", Some(phone)) => Ok(OtpDelivery::Otp {
            phone_number: phone.clone(),
        }),
        ("THIRD_PERSON", _) => {
            let third = match method
                .value
                .as_deref()
                .and_then(|v| Uuid::parse_str(v).ok())
            {
                Some(id) => app.reference.person(id).await?,
                None => None,
            };
            let own = third
                .as_ref()
                .and_then(|p| p.default_method().map(|m| (p.id, m)));
            Ok(match own {
                Some((third_person_id, m)) if m.kind == "OTP" && m.phone_number.is_some() => {
                    OtpDelivery::ThirdPerson {
                        third_person_id,
                        phone_number: m.phone_number.clone().unwrap_or_default(),
                    }
                }
                _ => OtpDelivery::NotAllowed {
                    method_type: "THIRD_PERSON".into(),
                },
            })
        }
        (kind, _) => Ok(OtpDelivery::NotAllowed {
            method_type: kind.to_string(),
        }),
    }
}

/// `PATCH /api/patients/{patient_id}/approvals/{id}/actions/resend` (scope `approval:create`).
#[utoipa::path(
    patch,
    path = "/api/patients/{patient_id}/approvals/{id}/actions/resend",
    tag = "actions",
    operation_id = "resend_approval_otp",
    summary = "Resend the OTP SMS of an approval",
    description = "Issues a new code (the previous one stops working); the job sends the SMS. \
Checks in order: token (401), scope (403), the same command's job is pending (200 with that \
job), the person exists (404 `Person not found`), the \
approval exists for this person and belongs to the caller's legal entity (404), the person is \
active (409), the authentication method is OTP or a THIRD_PERSON whose own method is OTP (409), \
`status` is `new` (409).",
    params(
        ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
        ("id" = uuid::Uuid, Path, description = "Approval id", example = "99999999-9999-4999-8999-999999999999"),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, description = "A retry with the same key (same user, method, path and body) answers the first answer again"),
    ),
    security(("bearer" = ["approval:create"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "The same command (user, legal entity, patient, approval) is already under way: its job, as `GET /api/jobs/{id}` answers it", body = doc::JobEnvelope),
        (status = 202, description = "A new code is issued; the job sends the SMS", body = doc::JobEnvelope),
        (status = 404, description = "`Person not found` or `Approval with such id is not found` (also for a non-uuid id)", body = doc::ErrorEnvelope),
        (status = 409, description = "`Person is not active`, `Resend SMS is not allowed for this authentication method`, `Approval in status <status> can not be resent`, or a concurrent change", body = doc::ErrorEnvelope),
        (status = 422, description = "Idempotency-Key longer than 255 characters, or already used for a different request", body = doc::ErrorEnvelope),
    )
)]
pub async fn resend(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path((patient_id, id)): Path<(String, String)>,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["approval:create"])?;
    let job = JobSpec::new("resend_approval_otp")
        .id("patient_id", &patient_id)
        .id("approval_id", &id);
    if let Some(pending) = actions::pending_job(&app, &caller, &job).await? {
        return Ok(pending);
    }
    let identity = &caller.identity;
    let patient_id = path_id(&patient_id, PERSON_NOT_FOUND)?;
    let person = app
        .reference
        .person(patient_id)
        .await?
        .ok_or_else(|| ApiError::not_found(PERSON_NOT_FOUND))?;
    let id = path_id(&id, NOT_FOUND)?;
    // Patient, legal entity and `authorize_with` are fixed at creation: a cached state answers.
    let approval: Approval = app.bus.load_cached(id).await?;
    let record = approval
        .record
        .as_ref()
        .filter(|a| a.patient_id == patient_id && a.visible_to(identity.client_id))
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    if !person.is_active() {
        return Err(ApiError::conflict("Person is not active"));
    }
    let delivery = delivery(&app, &person, record.authorize_with).await?;
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let command = ApprovalCommand::ResendOtp {
        patient_id,
        legal_entity_id: identity.client_id,
        user_id: identity.user_id,
        at: actions::now(),
        delivery,
        salt: hex::encode(salt),
    };
    let req = ActionRequest {
        caller: &caller,
        method: "PATCH",
        path: format!("/api/patients/{patient_id}/approvals/{id}/actions/resend"),
        body: &[],
        job: Some(job),
    };
    Ok(actions::run::<Approval>(&app, req, id, command)
        .await?
        .into_accepted())
}

/// `GET /api/patients/{patient_id}/approvals/{id}` (scope `approval:read`).
#[utoipa::path(
    get,
    path = "/api/patients/{patient_id}/approvals/{id}",
    tag = "entities",
    operation_id = "get_approval",
    summary = "An approval, now or in the past",
    description = "Visible to the legal entity of the employee it is granted to; the phone is \
masked. `as_of` or `version` answers the state it had then.",
    params(
        ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
        ("id" = uuid::Uuid, Path, description = "Approval id", example = "99999999-9999-4999-8999-999999999999"),
        TimeTravelParams,
    ),
    security(("bearer" = ["approval:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "The approval", body = doc::ApprovalEnvelope),
        (status = 404, description = "`Approval with such id is not found`", body = doc::ErrorEnvelope),
        (status = 422, description = "A malformed `as_of` or `version`, both at once, another query parameter, or a too long Idempotency-Key", body = doc::ErrorEnvelope),
    )
)]
pub async fn show(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path((patient_id, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["approval:read"])?;
    let point = super::time_travel::requested(query.as_deref())?;
    let patient_id = path_id(&patient_id, NOT_FOUND)?;
    let id = path_id(&id, NOT_FOUND)?;
    let record = super::read::record::<Approval>(&app, id, point, NOT_FOUND, |a| {
        a.patient_id == patient_id && a.visible_to(caller.identity.client_id)
    })
    .await?;
    Ok(ApiResponse::ok(record.render()))
}
