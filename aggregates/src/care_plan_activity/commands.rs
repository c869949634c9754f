//! Commands on a care plan activity.

use chrono::{DateTime, Utc};

use super::quantity::Quantity;
use super::state::CarePlanActivityRecord;
use crate::ids::{LegalEntityId, ServiceRequestId, UserId};

#[derive(Debug, Clone)]
pub enum CarePlanActivityCommand {
    /// Creates the activity from the import file; a no-op when it already exists.
    Import(Box<CarePlanActivityRecord>),
    /// Gives the quantity of a recalled service request based on the activity back to its
    /// `remaining_quantity`.
    ReturnQuantity {
        service_request_id: ServiceRequestId,
        /// The service request's `quantity`.
        quantity: Quantity,
        /// The legal entity on whose behalf it is given back (the recall's).
        legal_entity_id: LegalEntityId,
        by: UserId,
        at: DateTime<Utc>,
    },
}
