//! The pure domain of ehealth-es: five aggregates — [`ServiceRequest`], [`MergeRequest`],
//! [`DeviceDispense`], [`Approval`] and [`CarePlanActivity`] — with their commands, events, state
//! models and typed errors. Every rule of the specification that depends on an entity's state
//! lives in the aggregate's `handle`, so it is enforced the same way on every path (HTTP, import,
//! workers) and unit-tested without a database.
//!
//! Rules about the caller — its legal entity, the user's employees, the party behind the user, the
//! patient — are pure functions in [`caller`], next to the aggregates' rules; values that have
//! rules of their own are types ([`drfo::Drfo`], [`service_request::RecallReason`], the ids of
//! [`ids`]).
//!
//! Nothing here does I/O. Facts that come from other registries (the signer's tax id, the user's
//! employees, the person's authentication method, the recall-reason dictionary) arrive inside the
//! command or as the rules' arguments, resolved by the service beforehand.

#[macro_use]
mod macros;

pub mod approval;
pub mod caller;
pub mod care_plan_activity;
pub mod common;
pub mod device_dispense;
pub mod drfo;
pub mod ids;
pub mod merge_request;
pub mod service_request;
mod status;
#[cfg(test)]
mod test_support;
pub mod visibility;

pub use approval::Approval;
pub use care_plan_activity::CarePlanActivity;
pub use device_dispense::DeviceDispense;
pub use merge_request::MergeRequest;
pub use service_request::ServiceRequest;
