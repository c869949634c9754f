//! The merge request aggregate (MPI preperson merge): Reject.
//!
//! Check order: the request must exist (404) before the author (403) and legal entity (422)
//! checks, then only NEW or APPROVED requests can be rejected (409). The caller's legal entity and
//! employee are checked before ([`crate::caller`]).

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::common::{overlay, RecordAggregate};
use crate::ids::{LegalEntityId, UserId};
pub use crate::status::MergeRequestStatus;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRequestRecord {
    pub id: Uuid,
    pub master_person_id: Uuid,
    pub merge_person_id: Uuid,
    pub status: MergeRequestStatus,
    pub legal_entity_id: Uuid,
    pub inserted_by: Uuid,
    pub inserted_at: DateTime<Utc>,
    pub updated_by: Uuid,
    pub updated_at: DateTime<Utc>,
    pub other: Map<String, Value>,
}

impl MergeRequestRecord {
    /// The eHealth view (`data` of the reject answer and of the read endpoint).
    pub fn render(&self) -> Value {
        Value::Object(overlay(
            &self.other,
            [
                ("id", serde_json::json!(self.id)),
                ("master_person_id", serde_json::json!(self.master_person_id)),
                ("merge_person_id", serde_json::json!(self.merge_person_id)),
                ("status", serde_json::json!(self.status.as_str())),
                ("legal_entity_id", serde_json::json!(self.legal_entity_id)),
                ("inserted_at", serde_json::json!(self.inserted_at)),
                ("inserted_by", serde_json::json!(self.inserted_by)),
                ("updated_at", serde_json::json!(self.updated_at)),
                ("updated_by", serde_json::json!(self.updated_by)),
            ],
        ))
    }
}

#[derive(Debug, Clone)]
pub enum MergeRequestCommand {
    Import(Box<MergeRequestRecord>),
    Reject {
        user_id: UserId,
        legal_entity_id: LegalEntityId,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MergeRequestEvent {
    MergeRequestImported(Box<MergeRequestRecord>),
    MergeRequestRejected { by: Uuid, at: DateTime<Utc> },
}

domain_event!(MergeRequestEvent {
    MergeRequestImported,
    MergeRequestRejected,
});

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeRequestError {
    #[error("Merge request not found")]
    NotFound,
    #[error("Only author of merge request is allowed to reject it")]
    NotAuthor,
    #[error("User doesn't belong to legal entity where the merge request was created")]
    OtherLegalEntity,
    #[error("Invalid merge request status")]
    InvalidStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeRequest {
    pub record: Option<MergeRequestRecord>,
}

impl MergeRequest {
    /// Every rule of Reject on the merge request, in order: it exists, the user is its author, it
    /// was created in the caller's legal entity, its status is NEW or APPROVED.
    pub fn check_reject(
        &self,
        user_id: UserId,
        legal_entity_id: LegalEntityId,
    ) -> Result<(), MergeRequestError> {
        let mr = self.record.as_ref().ok_or(MergeRequestError::NotFound)?;
        if mr.inserted_by != user_id.uuid() {
            return Err(MergeRequestError::NotAuthor);
        }
        if mr.legal_entity_id != legal_entity_id.uuid() {
            return Err(MergeRequestError::OtherLegalEntity);
        }
        if !matches!(
            mr.status,
            MergeRequestStatus::New | MergeRequestStatus::Approved
        ) {
            return Err(MergeRequestError::InvalidStatus);
        }
        Ok(())
    }
}

impl MergeRequest {
    fn decide(
        &self,
        command: MergeRequestCommand,
    ) -> Result<Option<MergeRequestEvent>, MergeRequestError> {
        match command {
            MergeRequestCommand::Import(record) => Ok(self.import(record)),
            MergeRequestCommand::Reject {
                user_id,
                legal_entity_id,
                at,
            } => {
                self.check_reject(user_id, legal_entity_id)?;
                Ok(Some(MergeRequestEvent::MergeRequestRejected {
                    by: user_id.uuid(),
                    at,
                }))
            }
        }
    }
}

impl MergeRequestRecord {
    fn evolve(&mut self, event: MergeRequestEvent) {
        match event {
            MergeRequestEvent::MergeRequestImported(record) => *self = *record,
            MergeRequestEvent::MergeRequestRejected { by, at } => {
                self.status = MergeRequestStatus::Rejected;
                self.updated_by = by;
                self.updated_at = at;
            }
        }
    }
}

record_aggregate!(
    MergeRequest(MergeRequestRecord),
    MergeRequestCommand,
    MergeRequestEvent::MergeRequestImported,
    MergeRequestError
);
