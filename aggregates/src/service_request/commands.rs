//! Commands on a service request.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::state::ServiceRequestRecord;
use crate::drfo::Drfo;
use crate::ids::{CarePlanId, EmployeeId, LegalEntityId, PatientId, UserId};

#[derive(Debug, Clone)]
pub enum ServiceRequestCommand {
    /// Creates the service request from the import file; a no-op when it already exists.
    Import(Box<ServiceRequestRecord>),
    /// `PATCH /api/service_requests/{id}/actions/release`.
    Release(ReleaseServiceRequest),
    /// `PATCH /api/patients/{patient_id}/service_requests/{id}/actions/recall`.
    Recall(Box<RecallServiceRequest>),
}

#[derive(Debug, Clone)]
pub struct ReleaseServiceRequest {
    pub legal_entity_id: LegalEntityId,
    pub user_id: UserId,
    pub at: DateTime<Utc>,
}

/// A recall whose digital signature has already been verified; it carries what the signature and
/// the registries said, and the aggregate decides.
#[derive(Debug, Clone)]
pub struct RecallServiceRequest {
    pub patient_id: PatientId,
    pub legal_entity_id: LegalEntityId,
    pub user_id: UserId,
    pub at: DateTime<Utc>,
    /// The JSON content of the signed envelope.
    pub signed_content: Value,
    /// The signer's tax id from the certificate, if it carries one.
    pub signer_drfo: Option<Drfo>,
    /// `tax_id` of the party of the service request's requester employee, if known.
    pub requester_tax_id: Option<String>,
    /// APPROVED employees of the user's party in the token's legal entity
    /// ([`crate::caller::employee::approved`]).
    pub user_employee_ids: Vec<EmployeeId>,
    /// Care plans that one of those employees holds an active approval to write.
    pub writable_care_plans: Vec<CarePlanId>,
    /// The care plan of the care-plan activity the service request is based on, if it names one.
    pub activity_care_plan: Option<CarePlanId>,
    /// Codes of the `eHealth/service_request_recall_reasons` dictionary.
    pub allowed_reasons: Vec<String>,
    /// Where the signed content was stored in media storage.
    pub signed_content_link: String,
}
