//! The recall's give-back to a care plan activity: a recalled service request based on an
//! activity, with a quantity, gives that quantity back to the activity's `remaining_quantity`
//! through the CarePlanActivity aggregate, on behalf of the recall (its user and legal entity, its
//! command as the cause). The effects worker runs it before it finishes the recall's job.
//!
//! Exactly once: the activity remembers the service requests that gave back, so a batch redone
//! after a crash appends nothing, and the effects checkpoint is locked while a batch runs, so two
//! instances never run it together. A refusal (an activity in a final status, a quantity that is
//! not positive or in other units) is logged and leaves the activity as it is: the recall has
//! succeeded, and eHealth does not fail it on the recalculation.

use std::sync::Arc;

use ehealth_aggregates::care_plan_activity::{give_back, CarePlanActivityCommand};
use ehealth_aggregates::service_request::ServiceRequestRecord;
use ehealth_aggregates::CarePlanActivity;
use ehealth_projections::StoredEvent;

use super::effects::{follow_up, recalled_at, run_follow_up, EffectError};
use crate::commands::CommandBus;

/// Gives back what the service request of the `ServiceRequestRecalled` `event` (its stored state
/// `service_request`) used of a care plan activity, if anything.
pub async fn return_quantity(
    bus: &Arc<CommandBus>,
    event: &StoredEvent,
    service_request: Option<&ServiceRequestRecord>,
) -> Result<(), EffectError> {
    let Some(sr) = service_request else {
        return Ok(());
    };
    let give_back = match give_back(sr) {
        Ok(Some(give_back)) => give_back,
        Ok(None) => return Ok(()),
        Err(why) => {
            tracing::warn!(service_request = %sr.id, %why, "quantity not given back");
            return Ok(());
        }
    };
    let activity = give_back.activity;
    let at = recalled_at(event);
    let meta = follow_up(
        event,
        format!("return:{activity}:{}", event.global_position),
        at,
    );
    let (by, legal_entity_id) = (meta.user_id, meta.client_id);
    let command = CarePlanActivityCommand::ReturnQuantity {
        service_request_id: sr.id.into(),
        quantity: give_back.quantity,
        legal_entity_id: legal_entity_id.into(),
        by: by.into(),
        at,
    };
    if let Some(e) = run_follow_up::<CarePlanActivity>(bus, activity, command, meta).await? {
        tracing::warn!(%activity, service_request = %sr.id, error = %e, "quantity not given back");
    }
    Ok(())
}
