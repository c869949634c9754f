//! The three list endpoints: which projection table each lists, who may read it and how a row's
//! `document` renders. Everything else about a list (its filters and their values, its order,
//! its CSV columns, who sees a row) comes from the table's declaration and the entity's
//! visibility rule.

use ehealth_aggregates::visibility::{self, Visibility};
use ehealth_aggregates::{DeviceDispense, MergeRequest, ServiceRequest};
use ehealth_projections::tables;
use ehealth_projections::{Column, Listing, Table};
use serde_json::Value;

use crate::api::read::Entity;

/// One list endpoint.
pub(super) struct Resource {
    pub table: &'static Table,
    pub listing: &'static Listing,
    /// Who sees a row: the list is confined to the caller's legal entity by it.
    pub visibility: &'static Visibility,
    /// The eHealth rendering of a row's `document`.
    pub render: fn(Value) -> Option<Value>,
}

impl Resource {
    /// The list of `table`, whose rows are documents of `A`.
    const fn of<A: Entity>(table: &'static Table, visibility: &'static Visibility) -> Resource {
        Resource {
            table,
            listing: listing(table),
            visibility,
            render: render::<A>,
        }
    }
}

/// How a filter's value is checked and bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// One of these values, exactly (enum values are case-sensitive, as stored).
    Enum(&'static [&'static str]),
    Uuid,
}

/// An equality filter: `?<param>=<value>` becomes `<column> = value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Filter {
    pub param: &'static str,
    pub column: &'static str,
    pub kind: Kind,
    pub doc: &'static str,
}

/// The listing of a table that has one (a table without one fails to compile here).
const fn listing(table: &'static Table) -> &'static Listing {
    match &table.listing {
        Some(listing) => listing,
        None => panic!("the table has no listing"),
    }
}

impl Resource {
    /// The filters, in the order the endpoint documents them.
    pub(crate) fn filters(&self) -> Vec<Filter> {
        self.listing
            .filters
            .iter()
            .map(|f| Filter {
                param: f.param,
                column: f.column,
                kind: match self.table.column(f.column).and_then(|c| c.values) {
                    Some(values) => Kind::Enum(values),
                    None => Kind::Uuid,
                },
                doc: f.doc,
            })
            .collect()
    }

    /// The CSV columns: the table's typed columns, without the JSON `document`.
    pub(crate) fn csv_columns(&self) -> impl Iterator<Item = &'static Column> {
        self.table.columns.iter().filter(|c| c.in_csv)
    }
}

pub(super) const SERVICE_REQUESTS: Resource =
    Resource::of::<ServiceRequest>(&tables::SERVICE_REQUESTS, &visibility::SERVICE_REQUEST);

pub(super) const MERGE_REQUESTS: Resource =
    Resource::of::<MergeRequest>(&tables::MERGE_REQUESTS, &visibility::MERGE_REQUEST);

pub(super) const DEVICE_DISPENSES: Resource =
    Resource::of::<DeviceDispense>(&tables::DEVICE_DISPENSES, &visibility::DEVICE_DISPENSE);

/// A stored document of `A` rendered as the entity's read endpoint renders it.
fn render<A: Entity>(document: Value) -> Option<Value> {
    let entity: A = serde_json::from_value(document).ok()?;
    entity.into_record().map(|record| A::render(&record))
}
