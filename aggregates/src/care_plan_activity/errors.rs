//! Why a command on a care plan activity is refused.

use super::state::CarePlanActivityStatus;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CarePlanActivityError {
    #[error("Care plan activity not found")]
    NotFound,
    #[error("Care plan activity in status {} cannot take quantity back", .0.as_str())]
    FinalStatus(CarePlanActivityStatus),
    #[error("The quantity to give back must be greater than zero")]
    QuantityNotPositive,
    #[error("The quantity to give back is not in the units of the care plan activity")]
    UnitsDiffer,
}
