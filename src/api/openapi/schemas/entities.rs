//! The entities as the read endpoints render them, and the body of Recall.

// Never constructed: the derives read the declarations, nothing else does.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::enums::{
    ApprovalStatus, DeviceDispenseStatus, MergeRequestStatus, ProgramProcessingStatus,
    ServiceRequestStatus,
};

/// eHealth's reference to another resource.
#[derive(ToSchema)]
#[schema(example = json!({ "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "employee" } ] },
                                           "value": "44444444-4444-4444-8444-444444444444" } }))]
pub struct Reference {
    identifier: Identifier,
}

#[derive(ToSchema)]
pub struct Identifier {
    #[schema(rename = "type")]
    kind: CodeableConcept,
    value: Uuid,
}

#[derive(ToSchema)]
pub struct CodeableConcept {
    coding: Vec<Coding>,
}

#[derive(ToSchema)]
pub struct Coding {
    system: String,
    code: String,
}

/// A service request as eHealth renders it; other imported fields (`requisition`, `intent`, …)
/// are rendered back unchanged.
#[derive(ToSchema)]
pub struct ServiceRequest {
    id: Uuid,
    status: ServiceRequestStatus,
    #[schema(required = true)]
    program_processing_status: Option<ProgramProcessingStatus>,
    /// The patient.
    subject: Reference,
    #[schema(required = true)]
    requester_employee: Option<Reference>,
    #[schema(required = true)]
    requester_legal_entity: Option<Reference>,
    #[schema(required = true)]
    used_by_employee: Option<Reference>,
    #[schema(required = true)]
    used_by_legal_entity: Option<Reference>,
    /// `{coding: [{system: "eHealth/service_request_recall_reasons", code}]}` once recalled.
    #[schema(required = true, value_type = Option<Object>)]
    status_reason: Option<Value>,
    #[schema(required = true)]
    explanatory_letter: Option<String>,
    status_history: Vec<StatusHistoryEntry>,
    inserted_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(ToSchema)]
pub struct StatusHistoryEntry {
    status: ServiceRequestStatus,
    #[schema(value_type = Option<Object>)]
    status_reason: Option<Value>,
    inserted_at: DateTime<Utc>,
    inserted_by: Option<Uuid>,
}

/// A merge request (MPI preperson merge).
#[derive(ToSchema)]
pub struct MergeRequest {
    id: Uuid,
    master_person_id: Uuid,
    merge_person_id: Uuid,
    status: MergeRequestStatus,
    /// The legal entity where it was created; the only one that sees it.
    legal_entity_id: Uuid,
    inserted_at: DateTime<Utc>,
    /// The user who created it; only they may reject it.
    inserted_by: Uuid,
    updated_at: DateTime<Utc>,
    updated_by: Uuid,
}

/// A device dispense; other imported fields (`details`, …) are rendered back unchanged.
#[derive(ToSchema)]
pub struct DeviceDispense {
    id: Uuid,
    status: DeviceDispenseStatus,
    /// The patient.
    subject: Reference,
    /// The legal entity that performed it; the only one that sees or stops it.
    performer_legal_entity: Reference,
    #[schema(required = true)]
    performer: Option<Reference>,
    inserted_at: DateTime<Utc>,
    #[schema(required = true)]
    inserted_by: Option<Uuid>,
    updated_at: DateTime<Utc>,
    #[schema(required = true)]
    updated_by: Option<Uuid>,
}

/// A patient's approval (consent) for an employee; other imported fields are rendered back
/// unchanged.
#[derive(ToSchema)]
pub struct Approval {
    id: Uuid,
    status: ApprovalStatus,
    /// The service request it was made for.
    #[schema(required = true)]
    reason: Option<Reference>,
    /// The employee who is granted access.
    #[schema(required = true)]
    granted_to: Option<Reference>,
    /// The person's authentication method chosen at creation.
    #[schema(required = true)]
    authorize_with: Option<Uuid>,
    /// The method the last resent code went to, the phone masked; absent before any resend.
    authentication_method_current: Option<AuthenticationMethodCurrent>,
    inserted_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(ToSchema)]
pub struct AuthenticationMethodCurrent {
    /// `OTP` or `THIRD_PERSON`.
    #[schema(rename = "type")]
    kind: String,
    /// Masked: `+38093*****85`.
    number: String,
}

/// The body of Recall: exactly this one property.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecallRequest {
    /// Base64 of a DER CMS/PKCS#7 SignedData envelope with the content attached (the service
    /// request as the read endpoint renders it, with `status_reason` set to the recall reason).
    #[schema(min_length = 1)]
    signed_data: String,
}
