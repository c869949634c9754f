//! The care plan activity aggregate: Import, and ReturnQuantity (a recalled service request based
//! on the activity gives its quantity back).
//!
//! eHealth recalculates `remaining_quantity` as the planned `quantity` minus the quantities of the
//! service requests still based on the activity, so a recall can only restore up to `quantity`.
//! Rules, in order: the activity must exist (`NotFound`); a service request that already gave back
//! gives back nothing again (no event, so a retried command is a no-op); an activity without a
//! quantity has nothing to recalculate (no event); an activity in a final status (`completed`,
//! `cancelled`, `entered_in_error`) is refused, as its quantity can no longer be used; the
//! quantity must be greater than zero and in the activity's units. Then `remaining_quantity`
//! becomes `min(quantity, remaining + returned)` and the service request is remembered.

mod based_on;
mod commands;
mod errors;
mod events;
mod quantity;
mod state;
#[cfg(test)]
mod tests;

pub use based_on::{based_on_activity, give_back, GiveBack, ACTIVITY_CODES};
pub use commands::CarePlanActivityCommand;
pub use errors::CarePlanActivityError;
pub use events::CarePlanActivityEvent;
pub use quantity::{Amount, Quantity};
pub use state::{CarePlanActivityRecord, CarePlanActivityStatus};

use crate::common::RecordAggregate;
use crate::ids::ServiceRequestId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarePlanActivity {
    /// `None` until the activity is imported.
    pub record: Option<CarePlanActivityRecord>,
}

/// The remaining quantity after `returned` is given back: never more than `planned`.
pub fn restored(planned: Amount, remaining: Amount, returned: Amount) -> Amount {
    remaining
        .checked_add(returned)
        .map_or(planned, |sum| sum.min(planned))
}

impl CarePlanActivity {
    /// The activity's new `remaining_quantity` after `service_request` gives `quantity` back;
    /// `Ok(None)` when nothing changes (already given back, or an activity without quantity).
    pub fn check_return(
        &self,
        service_request: ServiceRequestId,
        quantity: &Quantity,
    ) -> Result<Option<Quantity>, CarePlanActivityError> {
        let activity = self
            .record
            .as_ref()
            .ok_or(CarePlanActivityError::NotFound)?;
        if activity.returned_by.contains(&service_request.uuid()) {
            return Ok(None);
        }
        let Some(planned) = &activity.quantity else {
            return Ok(None);
        };
        if activity.status.is_final() {
            return Err(CarePlanActivityError::FinalStatus(activity.status));
        }
        if quantity.value <= Amount::ZERO {
            return Err(CarePlanActivityError::QuantityNotPositive);
        }
        if !planned.same_units(quantity) {
            return Err(CarePlanActivityError::UnitsDiffer);
        }
        let remaining = activity
            .remaining_quantity
            .as_ref()
            .map_or(planned.value, |r| r.value);
        let value = restored(planned.value, remaining, quantity.value);
        let base = activity.remaining_quantity.as_ref().unwrap_or(planned);
        Ok(Some(base.with_value(value)))
    }
}

impl CarePlanActivity {
    fn decide(
        &self,
        command: CarePlanActivityCommand,
    ) -> Result<Option<CarePlanActivityEvent>, CarePlanActivityError> {
        match command {
            CarePlanActivityCommand::Import(record) => Ok(self.import(record)),
            CarePlanActivityCommand::ReturnQuantity {
                service_request_id,
                quantity,
                legal_entity_id,
                by,
                at,
            } => Ok(self
                .check_return(service_request_id, &quantity)?
                .map(|remaining_quantity| {
                    CarePlanActivityEvent::CarePlanActivityQuantityReturned {
                        service_request_id: service_request_id.uuid(),
                        quantity,
                        remaining_quantity,
                        legal_entity_id: legal_entity_id.uuid(),
                        by: by.uuid(),
                        at,
                    }
                })),
        }
    }
}

impl CarePlanActivityRecord {
    fn evolve(&mut self, event: CarePlanActivityEvent) {
        match event {
            CarePlanActivityEvent::CarePlanActivityImported(record) => *self = *record,
            CarePlanActivityEvent::CarePlanActivityQuantityReturned {
                service_request_id,
                remaining_quantity,
                legal_entity_id,
                by,
                at,
                ..
            } => {
                self.remaining_quantity = Some(remaining_quantity);
                self.returned_by.push(service_request_id);
                if !self.changed_by_legal_entities.contains(&legal_entity_id) {
                    self.changed_by_legal_entities.push(legal_entity_id);
                }
                self.updated_by = Some(by);
                self.updated_at = at;
            }
        }
    }
}

record_aggregate!(
    CarePlanActivity(CarePlanActivityRecord),
    CarePlanActivityCommand,
    CarePlanActivityEvent::CarePlanActivityImported,
    CarePlanActivityError
);
