//! Documentation-only types of the care plan activity endpoints (see [`super::schemas`]).

// Never constructed: the derives read the declarations, nothing else does.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use utoipa::ToSchema;
use uuid::Uuid;

use super::schemas::{CarePlanActivityStatus, Meta, Reference};

/// A FHIR Quantity. `value` is exact: a JSON number, or a decimal string when a double could not
/// carry it exactly (more than 15 significant digits).
#[derive(ToSchema)]
#[schema(example = json!({ "value": 10, "system": "eHealth/ucum/units", "code": "10219000", "unit": "шт" }))]
pub struct Quantity {
    value: QuantityValue,
    system: Option<String>,
    code: Option<String>,
    unit: Option<String>,
}

/// A JSON number, or a decimal string (`"0.1234567890123456789"`).
#[derive(ToSchema, serde::Serialize)]
#[serde(untagged)]
pub enum QuantityValue {
    Number(f64),
    Decimal(String),
}

/// A care plan activity; other imported fields (`kind`, `detail`, …) are rendered back unchanged.
#[derive(ToSchema)]
pub struct CarePlanActivity {
    id: Uuid,
    status: CarePlanActivityStatus,
    /// The care plan.
    care_plan: Reference,
    /// The patient.
    subject: Reference,
    /// The care plan's managing legal entity.
    managing_organization: Reference,
    /// The planned quantity; `null` for an activity that is not counted.
    #[schema(required = true)]
    quantity: Option<Quantity>,
    /// What is left for new service requests; a recall of a service request based on the
    /// activity gives its quantity back (never beyond `quantity`).
    #[schema(required = true)]
    remaining_quantity: Option<Quantity>,
    inserted_at: DateTime<Utc>,
    #[schema(required = true)]
    inserted_by: Option<Uuid>,
    updated_at: DateTime<Utc>,
    #[schema(required = true)]
    updated_by: Option<Uuid>,
}

/// `{meta, data}` with a care plan activity.
#[derive(ToSchema)]
pub struct CarePlanActivityEnvelope {
    meta: Meta,
    data: CarePlanActivity,
}
