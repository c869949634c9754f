//! A care plan activity's stored state and its eHealth rendering.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::quantity::Quantity;
use crate::common::{overlay, reference};
pub use crate::status::CarePlanActivityStatus;

impl CarePlanActivityStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Cancelled | Self::EnteredInError
        )
    }
}

/// A care plan activity as this service keeps it: the fields its rules touch are typed; every other
/// field of the imported document is kept verbatim in `other` and rendered back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarePlanActivityRecord {
    pub id: Uuid,
    pub care_plan_id: Uuid,
    pub patient_id: Uuid,
    pub status: CarePlanActivityStatus,
    /// The planned quantity; `None` for an activity that is not counted.
    pub quantity: Option<Quantity>,
    /// What is left of `quantity` for new service requests (never more than `quantity`).
    pub remaining_quantity: Option<Quantity>,
    /// The care plan's managing legal entity.
    pub legal_entity_id: Uuid,
    pub inserted_at: DateTime<Utc>,
    pub inserted_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    /// Service requests whose quantity was given back (each gives back once).
    #[serde(default)]
    pub returned_by: Vec<Uuid>,
    /// Legal entities on whose behalf the activity was changed; they may read it too.
    #[serde(default)]
    pub changed_by_legal_entities: Vec<Uuid>,
    pub other: Map<String, Value>,
}

impl CarePlanActivityRecord {
    /// The care plan's managing legal entity sees the activity, and so does every legal entity
    /// whose action changed it.
    pub fn visible_to(&self, legal_entity: Uuid) -> bool {
        self.legal_entity_id == legal_entity
            || self.changed_by_legal_entities.contains(&legal_entity)
    }

    /// The rules an imported activity must meet: no negative quantity, no remaining quantity
    /// without a planned one, and never more remaining than planned.
    pub fn validate(&self) -> Result<(), String> {
        for (field, quantity) in [
            ("quantity", &self.quantity),
            ("remaining_quantity", &self.remaining_quantity),
        ] {
            if quantity.as_ref().is_some_and(|q| q.value.is_negative()) {
                return Err(format!("{field}.value must not be negative"));
            }
        }
        match (&self.quantity, &self.remaining_quantity) {
            (None, Some(_)) => Err("remaining_quantity needs a quantity".into()),
            (Some(q), Some(r)) if r.value > q.value => {
                Err("remaining_quantity.value must not exceed quantity.value".into())
            }
            _ => Ok(()),
        }
    }

    /// The activity as the read endpoint answers it: references in eHealth's form, quantities as
    /// FHIR Quantity objects (`null` when absent).
    pub fn render(&self) -> Value {
        Value::Object(overlay(
            &self.other,
            [
                ("id", json!(self.id)),
                ("status", json!(self.status.as_str())),
                ("care_plan", reference("care_plan", self.care_plan_id)),
                ("subject", reference("patient", self.patient_id)),
                (
                    "managing_organization",
                    reference("legal_entity", self.legal_entity_id),
                ),
                ("quantity", json!(self.quantity)),
                ("remaining_quantity", json!(self.remaining_quantity)),
                ("inserted_at", json!(self.inserted_at)),
                ("inserted_by", json!(self.inserted_by)),
                ("updated_at", json!(self.updated_at)),
                ("updated_by", json!(self.updated_by)),
            ],
        ))
    }
}
