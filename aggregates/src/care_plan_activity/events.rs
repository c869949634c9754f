//! Events of a care plan activity.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::quantity::Quantity;
use super::state::CarePlanActivityRecord;

// The give-back carries two quantities (their units as strings); an event lives only while it is
// applied or written, so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CarePlanActivityEvent {
    CarePlanActivityImported(Box<CarePlanActivityRecord>),
    /// A recalled service request's quantity was given back.
    CarePlanActivityQuantityReturned {
        service_request_id: Uuid,
        /// What the service request gave back.
        quantity: Quantity,
        /// The activity's new `remaining_quantity`.
        remaining_quantity: Quantity,
        /// On whose behalf (the recalling legal entity), which may read the activity from then on.
        legal_entity_id: Uuid,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

domain_event!(CarePlanActivityEvent {
    CarePlanActivityImported,
    CarePlanActivityQuantityReturned,
});
