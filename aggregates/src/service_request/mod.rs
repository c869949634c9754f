//! The service request (referral) aggregate: Release and Recall.
//!
//! Rule order follows the newest specification pages. Checks about the caller rather than the
//! entity (its legal entity, party and patient: [`crate::caller`]) run before the command reaches
//! the aggregate.

mod commands;
mod errors;
mod events;
mod recall_reason;
pub mod signed_content;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{RecallServiceRequest, ReleaseServiceRequest, ServiceRequestCommand};
pub use errors::ServiceRequestError;
pub use events::ServiceRequestEvent;
pub use recall_reason::{RecallReason, RECALL_REASONS_SYSTEM};
pub use state::{
    comparable, ProgramProcessingStatus, ServiceRequestRecord, ServiceRequestStatus,
    StatusHistoryEntry, CONTENT_COMPARISON_IGNORED,
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::RecordAggregate;
use crate::ids::{CarePlanId, LegalEntityId, PatientId};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceRequest {
    /// `None` until the service request is imported.
    pub record: Option<ServiceRequestRecord>,
}

impl ServiceRequest {
    fn existing(&self) -> Result<&ServiceRequestRecord, ServiceRequestError> {
        self.record.as_ref().ok_or(ServiceRequestError::NotFound)
    }

    /// Every rule of Release, in order. Public so the service can reject early with the same
    /// answer the aggregate would give. The service request is looked up by id alone, as eHealth
    /// does: a legal entity that neither requested nor uses it meets the specification's rules
    /// first, then ours (409), never a 404 for a service request that exists.
    pub fn check_release(&self, cmd: &ReleaseServiceRequest) -> Result<(), ServiceRequestError> {
        let sr = self.existing()?;
        if sr.is_expired(cmd.at) {
            return Err(ServiceRequestError::ReleaseExpired);
        }
        if sr.status != ServiceRequestStatus::Active {
            return Err(ServiceRequestError::ReleaseInvalidStatus);
        }
        if sr.program_processing_status != Some(ProgramProcessingStatus::InQueue) {
            return Err(ServiceRequestError::ReleaseInvalidProgramProcessingStatus);
        }
        if sr.used_by_legal_entity != Some(cmd.legal_entity_id.uuid()) {
            return Err(ServiceRequestError::ReleaseUsedByAnotherLegalEntity);
        }
        Ok(())
    }

    /// The recall's first rules, about which service request and who asks: it exists for this
    /// patient (404), and the caller's legal entity requested it (409). Checked before the
    /// signature is verified, and again by [`check_recall`](Self::check_recall).
    pub fn check_recall_target(
        &self,
        patient_id: PatientId,
        legal_entity_id: LegalEntityId,
    ) -> Result<&ServiceRequestRecord, ServiceRequestError> {
        let sr = self
            .record
            .as_ref()
            .filter(|sr| sr.patient_id == patient_id.uuid())
            .ok_or(ServiceRequestError::NotFound)?;
        if sr.requester_legal_entity != Some(legal_entity_id.uuid()) {
            return Err(ServiceRequestError::RecallNotRequesterLegalEntity);
        }
        Ok(sr)
    }

    /// Every rule of Recall after the signature was verified, in the specification's order:
    /// signer (DRFO, then employee), status, the signed-content schema
    /// ([`signed_content::validate`]: every violation at once), reason, content. Answers the
    /// reason the recalled event records.
    pub fn check_recall(
        &self,
        cmd: &RecallServiceRequest,
    ) -> Result<RecallReason, ServiceRequestError> {
        let sr = self.check_recall_target(cmd.patient_id, cmd.legal_entity_id)?;
        let tax_id = cmd.requester_tax_id.as_deref().unwrap_or_default();
        if !cmd.signer_drfo.as_ref().is_some_and(|d| d.matches(tax_id)) {
            return Err(ServiceRequestError::RecallDrfoMismatch);
        }
        if !may_recall_as_employee(sr, cmd) {
            return Err(ServiceRequestError::RecallEmployeeNotInMsp);
        }
        if sr.status != ServiceRequestStatus::Active {
            return Err(ServiceRequestError::RecallInvalidStatus(sr.status));
        }
        signed_content::validate(&cmd.signed_content)
            .map_err(ServiceRequestError::RecallContentInvalid)?;
        let reason = RecallReason::from_signed_content(&cmd.signed_content, &cmd.allowed_reasons)?;
        if cmd.signed_content.get("id").and_then(Value::as_str) != Some(&sr.id.to_string()) {
            return Err(ServiceRequestError::RecallContentIdMismatch);
        }
        if comparable(cmd.signed_content.clone()) != comparable(sr.render()) {
            return Err(ServiceRequestError::RecallContentMismatch);
        }
        Ok(reason)
    }
}

/// The requester employee is one of the user's APPROVED employees in this legal entity; or, for a
/// service request based on a care plan, one of them holds an active approval to write that care
/// plan (its id from the service request's `based_on`, else from its care-plan activity).
fn may_recall_as_employee(sr: &ServiceRequestRecord, cmd: &RecallServiceRequest) -> bool {
    if sr
        .requester_employee
        .is_some_and(|requester| cmd.user_employee_ids.contains(&requester.into()))
    {
        return true;
    }
    sr.based_on_care_plan()
        .map(CarePlanId::new)
        .or(cmd.activity_care_plan)
        .is_some_and(|care_plan| cmd.writable_care_plans.contains(&care_plan))
}

impl ServiceRequest {
    fn decide(
        &self,
        command: ServiceRequestCommand,
    ) -> Result<Option<ServiceRequestEvent>, ServiceRequestError> {
        match command {
            ServiceRequestCommand::Import(record) => Ok(self.import(record)),
            ServiceRequestCommand::Release(cmd) => {
                self.check_release(&cmd)?;
                let sr = self.existing()?;
                Ok(Some(ServiceRequestEvent::ServiceRequestReleased {
                    released_employee: sr.used_by_employee,
                    released_legal_entity: sr.used_by_legal_entity,
                    by: cmd.user_id.uuid(),
                    at: cmd.at,
                }))
            }
            ServiceRequestCommand::Recall(cmd) => {
                let reason = self.check_recall(&cmd)?;
                Ok(Some(ServiceRequestEvent::ServiceRequestRecalled {
                    status_reason: reason.into_value(),
                    explanatory_letter: cmd
                        .signed_content
                        .get("explanatory_letter")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    signed_content_link: cmd.signed_content_link,
                    by: cmd.user_id.uuid(),
                    at: cmd.at,
                }))
            }
        }
    }
}

impl ServiceRequestRecord {
    fn evolve(&mut self, event: ServiceRequestEvent) {
        match event {
            ServiceRequestEvent::ServiceRequestImported(record) => *self = *record,
            ServiceRequestEvent::ServiceRequestReleased {
                released_legal_entity,
                by,
                at,
                ..
            } => {
                if let Some(le) = released_legal_entity {
                    if !self.released_by.contains(&le) {
                        self.released_by.push(le);
                    }
                }
                self.used_by_employee = None;
                self.used_by_legal_entity = None;
                self.program_processing_status = Some(ProgramProcessingStatus::New);
                self.updated_by = Some(by);
                self.updated_at = at;
            }
            ServiceRequestEvent::ServiceRequestRecalled {
                status_reason,
                explanatory_letter,
                signed_content_link,
                by,
                at,
            } => {
                self.status = ServiceRequestStatus::Recalled;
                self.status_reason = Some(status_reason.clone());
                if explanatory_letter.is_some() {
                    self.explanatory_letter = explanatory_letter;
                }
                self.status_history.push(StatusHistoryEntry {
                    status: ServiceRequestStatus::Recalled,
                    status_reason: Some(status_reason),
                    inserted_at: at,
                    inserted_by: Some(by),
                });
                self.signed_content_links.push(signed_content_link);
                self.updated_by = Some(by);
                self.updated_at = at;
            }
        }
    }
}

record_aggregate!(
    ServiceRequest(ServiceRequestRecord),
    ServiceRequestCommand,
    ServiceRequestEvent::ServiceRequestImported,
    ServiceRequestError
);
