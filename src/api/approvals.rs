//! Approvals: Resend SMS (async by server decision); the read endpoints are in `read_endpoints`.

use std::sync::Arc;

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use ehealth_aggregates::approval::{
    method, otp_delivery, ApprovalCommand, ApprovalError, OtpDelivery,
};
use ehealth_aggregates::caller::party::{patient_active, patient_exists};
use ehealth_aggregates::ids::{LegalEntityId, PatientId};
use ehealth_aggregates::Approval;
use rand::RngCore;
use uuid::Uuid;

use super::actions::{self, ActionRequest};
use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::{path_id, Caller};
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use crate::app::AppState;
use crate::jobs::JobSpec;
use crate::otp_limit::{Claim, OtpInitLimit};
use crate::reference::Person;

pub(super) const NOT_FOUND: &str = "Approval with such id is not found";
const PERSON_NOT_FOUND: &str = "Person not found";

/// Where the new code goes, chosen by the domain from the person and the confidants its
/// THIRD_PERSON methods name (those that exist).
async fn delivery(
    app: &AppState,
    person: &Person,
    authorize_with: Option<Uuid>,
    at: DateTime<Utc>,
) -> Result<OtpDelivery, ApiError> {
    let mut confidants = Vec::new();
    for id in method::confidants_needed(&person.methods(), authorize_with, at) {
        if let Some(confidant) = app.reference.person(id).await? {
            confidants.push(confidant);
        }
    }
    let views: Vec<_> = confidants.iter().map(Person::methods).collect();
    Ok(otp_delivery(&person.methods(), authorize_with, &views, at))
}

/// A rule of the spec that refuses this resend, on the approval's current state (ownership is
/// not one: it answers last).
async fn spec_refusal(
    app: &AppState,
    id: Uuid,
    patient_id: PatientId,
    client_id: LegalEntityId,
    delivery: &OtpDelivery,
) -> Result<Option<ApiError>, ApiError> {
    let current: Approval = app.bus.load(id).await?;
    Ok(
        match current.check_resend(patient_id, client_id, delivery) {
            Err(ApprovalError::BelongsToAnotherLegalEntity) | Ok(()) => None,
            Err(refusal) => Some(refusal.into()),
        },
    )
}

/// `PATCH /api/patients/{patient_id}/approvals/{id}/actions/resend` (scope `approval:create`).
#[utoipa::path(
    patch,
    path = "/api/patients/{patient_id}/approvals/{id}/actions/resend",
    tag = "actions",
    operation_id = "resend_approval_otp",
    summary = "Resend the OTP SMS of an approval",
    description = "Issues a new code (the previous one stops working); the job is processed once \
the SMS gateway accepted the message, and fails when it never does within \
`EHEALTH_OTP_SEND_TIMEOUT` or when a newer code was issued first. Checks in order: token (401), \
scope (403), the person exists (404 `Person not found`), the approval exists for this person \
(404), the person is active (409), the method (`authorize_with`, else the person's default) can \
receive a code (409), `status` is `new` (409), no code was sent to that phone within \
`EHEALTH_OTP_INIT_LIMIT` seconds (429 with `Retry-After`), the approval belongs to the caller's \
legal entity (409).",
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
        (status = 409, description = "`Person is not active`, `Resend SMS is not allowed for this authentication method`, `Approval in status <status> can not be resent`, `Approval belongs to another legal entity`, or a concurrent change", body = doc::ErrorEnvelope),
        (status = 422, description = "Idempotency-Key longer than 255 characters, or already used for a different request", body = doc::ErrorEnvelope),
        (status = 429, description = "`too many requests`: a code was sent to the same phone within `EHEALTH_OTP_INIT_LIMIT` seconds", body = doc::ErrorEnvelope,
            headers(("Retry-After" = u64, description = "Seconds until the phone may receive a new code"))),
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
    let approval_id = Uuid::parse_str(&id).ok();
    let req = |id: Uuid| ActionRequest {
        caller: &caller,
        method: "PATCH",
        path: format!("/api/patients/{patient_id}/approvals/{id}/actions/resend"),
        body: &[],
        job: Some(job.clone()),
    };
    // A retry gets the first answer, though the phone's window or the approval moved on since.
    if let Some(id) = approval_id {
        if let Some(first_answer) = actions::replay(&app, &req(id)).await? {
            return Ok(first_answer);
        }
    }
    let person = patient_exists(app.reference.person(patient_id).await?)?;
    let id = approval_id.ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    // Patient, legal entity and `authorize_with` are fixed at creation, and a status never goes
    // back to `new`: a cached state answers every refusal it gives. One it lets through is checked
    // again on the current state before a 429, and by the command.
    let (patient, legal_entity) = (PatientId::new(patient_id), identity.legal_entity());
    let approval: Approval = app.bus.load_cached(id).await?;
    let record = approval
        .check_resend_target(patient)
        .map_err(ApiError::from)?;
    patient_active(&person.facts())?;
    let at = actions::now();
    let delivery = delivery(&app, &person, record.authorize_with, at).await?;
    let owned = match approval.check_resend(patient, legal_entity, &delivery) {
        Ok(()) => true,
        Err(ApprovalError::BelongsToAnotherLegalEntity) => false,
        Err(refusal) => return Err(refusal.into()),
    };
    let phone = delivery.phone_number().unwrap_or_default().to_string();

    // The OTP service's own refusal comes after the spec's rules, ownership last; another legal
    // entity never claims the phone.
    if !owned {
        if let Some(refusal) = spec_refusal(&app, id, patient, legal_entity, &delivery).await? {
            return Err(refusal);
        }
        if let Some(retry_after) = app.otp_limit.seconds_left(&phone).await? {
            return Err(ApiError::too_many_requests(retry_after));
        }
        return Err(ApprovalError::BelongsToAnotherLegalEntity.into());
    }
    let holder = OtpInitLimit::holder(
        identity.client_id,
        identity.user_id,
        caller.idempotency_key.as_deref(),
    );
    let claim = match app.otp_limit.claim(&phone, holder.as_deref()).await? {
        Claim::Refused { retry_after } => {
            return Err(spec_refusal(&app, id, patient, legal_entity, &delivery)
                .await?
                .unwrap_or_else(|| ApiError::too_many_requests(retry_after)));
        }
        claim => claim,
    };

    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let command = ApprovalCommand::ResendOtp {
        patient_id: patient,
        legal_entity_id: legal_entity,
        user_id: identity.user(),
        at,
        delivery,
        salt: hex::encode(salt),
    };
    let outcome = actions::run::<Approval>(&app, req(id), id, command).await;
    if outcome.is_err() {
        // No new code: the phone was not initialised after all. (A request its client drops
        // mid-command keeps its claim until the window ends: the command may still commit. A
        // request answered as a retry of its Idempotency-Key keeps it too: the request it repeats
        // committed a code, possibly while this one held the claim.)
        app.otp_limit.give_back(claim).await;
    }
    Ok(outcome?.into_accepted())
}
