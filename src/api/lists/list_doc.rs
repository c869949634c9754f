//! The query parameters of the lists in the OpenAPI document: the filters come from the tables'
//! declarations (an enum filter refers to its status schema), the paging parameters are shared.

use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::{Ref, RefOr, Required};
use utoipa::IntoParams;

use super::resources::{self, Kind, Resource};
use crate::api::openapi::schemas::enums;
use crate::api::query_params::DateOrInstant;

/// The parameters every list takes, for the OpenAPI document only: `params::parse` parses them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // never constructed: the derive reads the declaration
pub(super) struct ListParams {
    /// `updated_at` at or after this date (midnight UTC) or instant.
    #[param(value_type = Option<DateOrInstant>)]
    updated_from: Option<String>,
    /// `updated_at` before this date or instant.
    #[param(value_type = Option<DateOrInstant>)]
    updated_to: Option<String>,
    /// `inserted_at` at or after this date or instant.
    #[param(value_type = Option<DateOrInstant>)]
    inserted_from: Option<String>,
    /// `inserted_at` before this date or instant.
    #[param(value_type = Option<DateOrInstant>)]
    inserted_to: Option<String>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// A `next_cursor` of the same list (opaque, base64url): the page after it.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

/// The filters of a list, as optional query parameters.
fn filter_params(resource: &Resource) -> Vec<Parameter> {
    resource
        .filters()
        .into_iter()
        .map(|filter| {
            let schema: RefOr<Schema> = match filter.kind {
                Kind::Enum(values) => {
                    Ref::from_schema_name(enums::named(values).unwrap_or_default()).into()
                }
                Kind::Uuid => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into(),
            };
            let doc = filter.doc.trim();
            ParameterBuilder::new()
                .name(filter.param)
                .parameter_in(ParameterIn::Query)
                .description((!doc.is_empty()).then_some(doc))
                .required(Required::False)
                .schema(Some(schema))
                .build()
        })
        .collect()
}

/// Declares the filter parameters of one list.
macro_rules! filters_of {
    ($(#[$doc:meta])* $name:ident = $resource:path) => {
        $(#[$doc])*
        pub(super) struct $name;

        impl IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                filter_params(&$resource)
            }
        }
    };
}

filters_of!(
    /// The filters of `GET /api/service_requests`.
    ServiceRequestFilters = resources::SERVICE_REQUESTS
);
filters_of!(
    /// The filters of `GET /api/merge_requests`.
    MergeRequestFilters = resources::MERGE_REQUESTS
);
filters_of!(
    /// The filters of `GET /api/device_dispenses`.
    DeviceDispenseFilters = resources::DEVICE_DISPENSES
);
