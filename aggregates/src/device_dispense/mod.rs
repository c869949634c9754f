//! The device dispense aggregate: Stop (RС_[UPD] Stop Device dispense).
//!
//! Only the legal entity that performed the dispense may stop it (409), and only from
//! `in_progress`. Statuses are stored lower-case, as eHealth stores them.

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::common::{optional_reference, overlay, reference, RecordAggregate};
use crate::ids::{LegalEntityId, PatientId, UserId};
pub use crate::status::DeviceDispenseStatus;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceDispenseRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub status: DeviceDispenseStatus,
    pub performer_legal_entity: Uuid,
    pub performer: Option<Uuid>,
    pub inserted_at: DateTime<Utc>,
    pub inserted_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub other: Map<String, Value>,
}

impl DeviceDispenseRecord {
    pub fn render(&self) -> Value {
        Value::Object(overlay(
            &self.other,
            [
                ("id", serde_json::json!(self.id)),
                ("status", serde_json::json!(self.status.as_str())),
                ("subject", reference("patient", self.patient_id)),
                (
                    "performer_legal_entity",
                    reference("legal_entity", self.performer_legal_entity),
                ),
                ("performer", optional_reference("employee", self.performer)),
                ("inserted_at", serde_json::json!(self.inserted_at)),
                ("inserted_by", serde_json::json!(self.inserted_by)),
                ("updated_at", serde_json::json!(self.updated_at)),
                ("updated_by", serde_json::json!(self.updated_by)),
            ],
        ))
    }
}

#[derive(Debug, Clone)]
pub enum DeviceDispenseCommand {
    Import(Box<DeviceDispenseRecord>),
    Stop {
        patient_id: PatientId,
        legal_entity_id: LegalEntityId,
        user_id: UserId,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DeviceDispenseEvent {
    DeviceDispenseImported(Box<DeviceDispenseRecord>),
    DeviceDispenseStopped { by: Uuid, at: DateTime<Utc> },
}

domain_event!(DeviceDispenseEvent {
    DeviceDispenseImported,
    DeviceDispenseStopped,
});

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeviceDispenseError {
    #[error("Device dispense not found")]
    NotFound,
    #[error("Device dispense belongs to another legal entity")]
    BelongsToAnotherLegalEntity,
    #[error("Device dispense in status {} cannot be stopped", .0.as_str())]
    InvalidStatus(DeviceDispenseStatus),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceDispense {
    pub record: Option<DeviceDispenseRecord>,
}

impl DeviceDispense {
    /// Every rule of Stop, in order: the dispense exists for this patient, the caller's legal
    /// entity performed it, it is `in_progress`.
    pub fn check_stop(
        &self,
        patient_id: PatientId,
        legal_entity_id: LegalEntityId,
    ) -> Result<(), DeviceDispenseError> {
        let dd = self
            .record
            .as_ref()
            .filter(|dd| dd.patient_id == patient_id.uuid())
            .ok_or(DeviceDispenseError::NotFound)?;
        if dd.performer_legal_entity != legal_entity_id.uuid() {
            return Err(DeviceDispenseError::BelongsToAnotherLegalEntity);
        }
        if dd.status != DeviceDispenseStatus::InProgress {
            return Err(DeviceDispenseError::InvalidStatus(dd.status));
        }
        Ok(())
    }
}

impl DeviceDispense {
    fn decide(
        &self,
        command: DeviceDispenseCommand,
    ) -> Result<Option<DeviceDispenseEvent>, DeviceDispenseError> {
        match command {
            DeviceDispenseCommand::Import(record) => Ok(self.import(record)),
            DeviceDispenseCommand::Stop {
                patient_id,
                legal_entity_id,
                user_id,
                at,
            } => {
                self.check_stop(patient_id, legal_entity_id)?;
                Ok(Some(DeviceDispenseEvent::DeviceDispenseStopped {
                    by: user_id.uuid(),
                    at,
                }))
            }
        }
    }
}

impl DeviceDispenseRecord {
    fn evolve(&mut self, event: DeviceDispenseEvent) {
        match event {
            DeviceDispenseEvent::DeviceDispenseImported(record) => *self = *record,
            DeviceDispenseEvent::DeviceDispenseStopped { by, at } => {
                self.status = DeviceDispenseStatus::Stopped;
                self.updated_by = Some(by);
                self.updated_at = at;
            }
        }
    }
}

record_aggregate!(
    DeviceDispense(DeviceDispenseRecord),
    DeviceDispenseCommand,
    DeviceDispenseEvent::DeviceDispenseImported,
    DeviceDispenseError
);
