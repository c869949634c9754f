//! The enums of the entities (statuses), as schemas whose values are the domain's own
//! (`VALUES` of each aggregate enum): the entity schemas, the list filters and the `invalid[]`
//! params of a refused filter all show the same list.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use ehealth_aggregates::approval::ApprovalStatus as Approval;
use ehealth_aggregates::care_plan_activity::CarePlanActivityStatus as CarePlanActivity;
use ehealth_aggregates::device_dispense::DeviceDispenseStatus as DeviceDispense;
use ehealth_aggregates::merge_request::MergeRequestStatus as MergeRequest;
use ehealth_aggregates::service_request::{
    ProgramProcessingStatus as ProgramProcessing, ServiceRequestStatus as ServiceRequest,
};

/// Declares a string schema named `$name` with the values of a domain enum.
macro_rules! value_enum {
    ($(#[$doc:meta])* $name:ident = $values:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                string_enum($values)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

fn string_enum(values: &[&str]) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .into()
}

value_enum!(ServiceRequestStatus = ServiceRequest::VALUES);
value_enum!(ProgramProcessingStatus = ProgramProcessing::VALUES);
value_enum!(MergeRequestStatus = MergeRequest::VALUES);
value_enum!(DeviceDispenseStatus = DeviceDispense::VALUES);
value_enum!(ApprovalStatus = Approval::VALUES);
value_enum!(CarePlanActivityStatus = CarePlanActivity::VALUES);

/// The schema name of the enum whose values are `values` (a list filter refers to it).
pub fn named(values: &[&str]) -> Option<&'static str> {
    [
        ("ServiceRequestStatus", ServiceRequest::VALUES),
        ("ProgramProcessingStatus", ProgramProcessing::VALUES),
        ("MergeRequestStatus", MergeRequest::VALUES),
        ("DeviceDispenseStatus", DeviceDispense::VALUES),
        ("ApprovalStatus", Approval::VALUES),
        ("CarePlanActivityStatus", CarePlanActivity::VALUES),
    ]
    .into_iter()
    .find(|(_, known)| *known == values)
    .map(|(name, _)| name)
}
