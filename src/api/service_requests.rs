//! Service requests: Release and Recall; the read endpoints are in `read_endpoints`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine;
use ehealth_aggregates::caller::{self, employee, legal_entity};
use ehealth_aggregates::ids::{CarePlanId, EmployeeId, PatientId};
use ehealth_aggregates::service_request::{
    RecallServiceRequest, ReleaseServiceRequest, ServiceRequestCommand, ServiceRequestRecord,
};
use ehealth_aggregates::{Approval, CarePlanActivity, ServiceRequest};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::actions::{self, ActionRequest};
use super::caller_facts as facts;
use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::{parse_json, path_id, Caller, RawBody};
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use crate::app::AppState;
use crate::jobs::JobSpec;
use crate::reference::RECALL_REASONS_DICTIONARY;
use crate::signature::{single_valid_signature, SignatureError};

pub(super) const NOT_FOUND: &str = "Service request not found";
const PERSON_NOT_FOUND: &str = "Person not found";

/// What the care-plan alternative of the employee rule needs, read only when it can matter (the
/// service request is based on a care plan and the user is not its requester): the care plans
/// the user's employees may write, and the care plan of the activity the service request names.
async fn care_plan_access(
    app: &AppState,
    record: &ServiceRequestRecord,
    employees: &[EmployeeId],
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(Vec<CarePlanId>, Option<CarePlanId>), ApiError> {
    let requester = record
        .requester_employee
        .is_some_and(|r| employees.contains(&r.into()));
    let activity = record.based_on_activity();
    if requester || (record.based_on_care_plan().is_none() && activity.is_none()) {
        return Ok((Vec::new(), None));
    }
    let mut plans = Vec::new();
    let employees: Vec<Uuid> = employees.iter().map(|e| e.uuid()).collect();
    for document in app
        .store
        .read_models
        .active_approvals_granted_to(&employees)
        .await?
    {
        if let Ok(approval) = serde_json::from_value::<Approval>(document) {
            plans.extend(
                approval
                    .record
                    .map(|a| a.writable_care_plans(at))
                    .unwrap_or_default(),
            );
        }
    }
    let activity_care_plan = match activity {
        Some(id) => app
            .bus
            .load::<CarePlanActivity>(id)
            .await?
            .record
            .map(|a| CarePlanId::new(a.care_plan_id)),
        None => None,
    };
    Ok((plans, activity_care_plan))
}

/// `PATCH /api/service_requests/{id}/actions/release` (scope `service_request:use`, async).
#[utoipa::path(
    patch,
    path = "/api/service_requests/{id}/actions/release",
    tag = "actions",
    operation_id = "release_service_request",
    summary = "Release a service request",
    description = "Erases `used_by_employee` and `used_by_legal_entity` and sets \
`program_processing_status` to `new`. Checks in order: token (401), scope (403), the same command's \
job is pending (200 with that job), the legal entity's type is allowed and it is ACTIVE (409), the \
service request exists and is visible (404), `status` \
is `active` (409), `program_processing_status` is `in_queue` (409), the caller's legal entity uses \
it (409).",
    params(
        ("id" = uuid::Uuid, Path, description = "Service request id", example = "66666666-6666-4666-8666-666666666666"),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, description = "A retry with the same key (same user, method, path and body) answers the first answer again"),
    ),
    security(("bearer" = ["service_request:use"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "The same command (user, legal entity, service request) is already under way: its job, as `GET /api/jobs/{id}` answers it", body = doc::JobEnvelope),
        (status = 202, description = "Released; the job tracks the processing", body = doc::JobEnvelope),
        (status = 404, description = "`Service request not found` (also for a non-uuid id)", body = doc::ErrorEnvelope),
        (status = 409, description = "`Action is not allowed for the legal entity`, `Invalid service request status`, `Invalid program processing status`, `Service request is used by another legal entity`, or a concurrent change", body = doc::ErrorEnvelope),
        (status = 422, description = "Idempotency-Key longer than 255 characters, or already used for a different request", body = doc::ErrorEnvelope),
    )
)]
pub async fn release(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["service_request:use"])?;
    let job = JobSpec::new("release_service_request").id("service_request_id", &id);
    if let Some(pending) = actions::pending_job(&app, &caller, &job).await? {
        return Ok(pending);
    }
    facts::check_legal_entity(
        &app,
        caller.identity.legal_entity(),
        legal_entity::check_release,
    )
    .await?;
    let id = path_id(&id, NOT_FOUND)?;
    let command = ServiceRequestCommand::Release(ReleaseServiceRequest {
        legal_entity_id: caller.identity.legal_entity(),
        user_id: caller.identity.user(),
        at: actions::now(),
    });
    let req = ActionRequest {
        caller: &caller,
        method: "PATCH",
        path: format!("/api/service_requests/{id}/actions/release"),
        body: &[],
        job: Some(job),
    };
    Ok(actions::run::<ServiceRequest>(&app, req, id, command)
        .await?
        .into_accepted())
}

/// The recall body: exactly `{"signed_data": "<non-empty string>"}` (ME's JSON schema). Answers
/// the string as received and the SHA-256 (hex) of the envelope it encodes: the command's
/// parameter for job deduplication, the same however the base64 was wrapped or padded.
fn signed_data(body: &Value) -> Result<(String, String), ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::validation(vec![super::error::invalid_entry(
            "$",
            "cast",
            &format!("type mismatch. Expected Object but got {}", json_type(body)),
            json!(["object"]),
        )]));
    };
    let mut invalid = Vec::new();
    for key in object.keys().filter(|k| k.as_str() != "signed_data") {
        invalid.push(super::error::invalid_entry(
            &format!("$.{key}"),
            "schema",
            "schema does not allow additional properties",
            json!([]),
        ));
    }
    match object.get("signed_data") {
        None => invalid.push(super::error::invalid_entry(
            "$.signed_data",
            "required",
            "required property signed_data was not present",
            json!([]),
        )),
        Some(Value::String(s)) if s.is_empty() => invalid.push(super::error::invalid_entry(
            "$.signed_data",
            "length",
            "expected value to have a minimum length of 1",
            json!({"min": 1}),
        )),
        Some(Value::String(_)) => {}
        Some(other) => invalid.push(super::error::invalid_entry(
            "$.signed_data",
            "cast",
            &format!(
                "type mismatch. Expected String but got {}",
                json_type(other)
            ),
            json!(["string"]),
        )),
    }
    if !invalid.is_empty() {
        return Err(ApiError::validation(invalid));
    }
    let data = object["signed_data"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    let engine = base64::engine::general_purpose::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let Ok(envelope) = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, engine)
        .decode(compact.as_bytes())
    else {
        return Err(ApiError::invalid(
            "$.signed_data",
            "invalid",
            "Not a base64 string",
            json!([]),
        ));
    };
    Ok((data, hex::encode(Sha256::digest(envelope))))
}

/// Whether any key or string in `v` holds U+0000.
fn contains_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v)),
        _ => false,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

fn signature_error(err: SignatureError) -> ApiError {
    match err {
        SignatureError::NotBase64 => {
            ApiError::invalid("$.signed_data", "invalid", "Not a base64 string", json!([]))
        }
        SignatureError::SignerCount(0) => {
            ApiError::bad_request(SignatureError::SignerCount(0).to_string())
        }
        other @ (SignatureError::SignerCount(_)
        | SignatureError::Malformed
        | SignatureError::Invalid(_)) => {
            ApiError::invalid("$.signed_data", "invalid", &other.to_string(), json!([]))
        }
        SignatureError::Unavailable(msg) => {
            tracing::error!(error = %msg, "signature service unavailable");
            ApiError::unavailable("Digital signature service is unavailable")
        }
        SignatureError::Failed(msg) => {
            tracing::error!(error = %msg, "signature verification failed");
            ApiError::internal()
        }
    }
}

/// `PATCH /api/patients/{patient_id}/service_requests/{id}/actions/recall`
/// (scope `service_request:recall`, async).
#[utoipa::path(
    patch,
    path = "/api/patients/{patient_id}/service_requests/{id}/actions/recall",
    tag = "actions",
    operation_id = "recall_service_request",
    summary = "Recall a service request",
    description = "Verifies the signed content (CMS SignedData chained to `EHEALTH_TRUST_ANCHORS`, \
signer DRFO = the requester's tax id, content = the stored service request with `status_reason` \
set), stores it, and sets `status` to `recalled`. Checks in order: token (401), scope (403), \
`Content-Type: application/json` (415) and well-formed JSON (400), the body schema (422), base64 \
(422), the same command's job is pending (200 with that job), the legal entity (409), the service \
request exists for this patient and is visible (404), \
trust anchors configured (503), the signature and its content (400/422), the requester legal \
entity and employee (409), `status` is `active` (409), the recall reason (422), the content (422). \
A body over `EHEALTH_BODY_LIMIT` is 413.",
    params(
        ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
        ("id" = uuid::Uuid, Path, description = "Service request id", example = "66666666-6666-4666-8666-666666666666"),
        ("Idempotency-Key" = Option<String>, Header, max_length = 255, description = "A retry with the same key (same user, method, path and body) answers the first answer again"),
    ),
    request_body(content = doc::RecallRequest, content_type = "application/json", description = "Exactly `{\"signed_data\": \"<base64>\"}`"),
    security(("bearer" = ["service_request:recall"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "The same command (user, legal entity, patient, service request, signed envelope) is already under way: its job, as `GET /api/jobs/{id}` answers it", body = doc::JobEnvelope),
        (status = 202, description = "Recalled; the job revokes its approvals and sends the patient's SMS", body = doc::JobEnvelope),
        (status = 400, description = "`Malformed request. Probably, you have sent corrupted JSON.`, or a signed envelope with no signer", body = doc::ErrorEnvelope),
        (status = 404, description = "`Service request not found` (also for a non-uuid id)", body = doc::ErrorEnvelope),
        (status = 409, description = "`Action is not allowed for the legal entity`, `Only an employee from legal entity where service request is created can recall service request`, `Employees related to this party_id not in current MSP`, `Service request in status <status> cannot be recalled`, or a concurrent change", body = doc::ErrorEnvelope),
        (status = 413, description = "The body is larger than `EHEALTH_BODY_LIMIT`", body = doc::ErrorEnvelope),
        (status = 415, description = "The body is not `application/json`", body = doc::ErrorEnvelope),
        (status = 422, description = "The body schema (`required`, `cast`, `length`, additional properties), `Not a base64 string`, a malformed or invalid signature, `Does not match the signer drfo`, the recall reason, the signed content; or the Idempotency-Key", body = doc::ErrorEnvelope),
        (status = 500, description = "An unexpected failure, unusable trust anchors, or `Failed to save signed content`", body = doc::ErrorEnvelope),
    )
)]
pub async fn recall(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    Path((patient_id, id)): Path<(String, String)>,
    headers: HeaderMap,
    RawBody(raw): RawBody,
) -> Result<ApiResponse, ApiError> {
    caller.require(&["service_request:recall"])?;
    let body = parse_json(&headers, &raw)?;
    let (signed, envelope) = signed_data(&body)?;
    let identity = &caller.identity;
    let patient_id = path_id(&patient_id, PERSON_NOT_FOUND)?;
    let id = path_id(&id, NOT_FOUND)?;
    let job = JobSpec::new("recall_service_request")
        .id("patient_id", patient_id)
        .id("service_request_id", id)
        .param("signed_envelope_sha256", envelope);
    let req = ActionRequest {
        caller: &caller,
        method: "PATCH",
        path: format!("/api/patients/{patient_id}/service_requests/{id}/actions/recall"),
        body: &raw,
        job: Some(job.clone()),
    };
    if let Some(first_answer) = actions::replay(&app, &req).await? {
        return Ok(first_answer);
    }
    if let Some(pending) = actions::pending_job(&app, &caller, &job).await? {
        return Ok(pending);
    }
    facts::check_legal_entity(&app, identity.legal_entity(), legal_entity::check_recall).await?;
    let at = actions::now();
    let party = app.reference.user_party(identity.user_id).await?;
    caller::check_party(party.as_ref(), at.date_naive())?;
    let patient = app.reference.person(patient_id).await?;
    caller::check_patient(patient.map(|p| p.facts()).as_ref())?;

    let current: ServiceRequest = app.bus.load(id).await?;
    let record = current
        .check_recall_target(PatientId::new(patient_id), identity.legal_entity())
        .map_err(ApiError::from)?;

    let Some(verifier) = app.verifier.clone() else {
        return Err(ApiError::unavailable(
            "Digital signature verification is not configured (EHEALTH_TRUST_ANCHORS is not set)",
        ));
    };
    // A seal around the personal signature must be the caller's legal entity's.
    let legal_entity_edrpou = app
        .reference
        .legal_entity(identity.legal_entity().uuid())
        .await?
        .and_then(|le| le.edrpou);
    let document = verifier
        .verify(&signed, at)
        .await
        .and_then(|envelope| single_valid_signature(envelope, legal_entity_edrpou.as_deref()))
        .map_err(signature_error)?;
    let content: Value = serde_json::from_slice(&document.content).map_err(|_| {
        ApiError::invalid(
            "$.signed_data",
            "invalid",
            "Malformed encoded content. Probably, you have encoded corrupted JSON.",
            json!([]),
        )
    })?;
    // PostgreSQL stores no U+0000 in text or jsonb: the reason and the letter of such content
    // are kept in the event, so the append would fail with a 500.
    if contains_nul(&content) {
        return Err(ApiError::invalid(
            "$.signed_data",
            "invalid",
            "Signed content must not contain NUL (\\u0000) characters",
            json!([]),
        ));
    }

    let requester_tax_id = match record.requester_employee {
        Some(employee) => app.reference.employee_tax_id(employee).await?,
        None => None,
    };
    let user_employee_ids = employee::approved(
        &facts::employees(&app, identity.user(), identity.legal_entity()).await?,
    );
    let (writable_care_plans, activity_care_plan) =
        care_plan_access(&app, record, &user_employee_ids, at).await?;
    let mut command = RecallServiceRequest {
        patient_id: PatientId::new(patient_id),
        legal_entity_id: identity.legal_entity(),
        user_id: identity.user(),
        at,
        signed_content: content,
        signer_drfo: document.signer.drfo,
        requester_tax_id,
        user_employee_ids,
        writable_care_plans,
        activity_care_plan,
        allowed_reasons: app.reference.dictionary(RECALL_REASONS_DICTIONARY).await?,
        signed_content_link: String::new(),
    };
    // Refuse before writing to media storage, so only accepted content is ever stored; the
    // aggregate checks again against the state it commits on.
    if let Err(err) = current.check_recall(&command) {
        return actions::refused(&app, &req, err.into()).await;
    }
    let signed_data = body["signed_data"].as_str().unwrap_or_default();
    command.signed_content_link = app
        .media
        .store_recall(id, signed_data)
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "media storage write failed");
            ApiError::internal_with("Failed to save signed content")
        })?;

    let command = ServiceRequestCommand::Recall(Box::new(command));
    Ok(actions::run::<ServiceRequest>(&app, req, id, command)
        .await?
        .into_accepted())
}
