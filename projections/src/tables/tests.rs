//! The declarations agree with the domain (enum values) and with the migrations of both
//! backends (columns, their order, types and nullability).

use ehealth_aggregates::approval::ApprovalStatus;
use ehealth_aggregates::care_plan_activity::CarePlanActivityStatus;
use ehealth_aggregates::device_dispense::DeviceDispenseStatus;
use ehealth_aggregates::merge_request::MergeRequestStatus;
use ehealth_aggregates::service_request::{ProgramProcessingStatus, ServiceRequestStatus};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::*;
use crate::table::{Column, Sql};

/// Every listed value is a value of the enum as serde stores it, and the list is complete.
fn matches_enum<E: DeserializeOwned>(
    listed: &[&str],
    variants: usize,
    as_str: fn(E) -> &'static str,
) {
    for value in listed {
        let parsed: E = serde_json::from_value(json!(value))
            .unwrap_or_else(|_| panic!("{value} is not a stored value"));
        assert_eq!(as_str(parsed), *value);
    }
    assert_eq!(listed.len(), variants);
}

/// Checks `$enum::VALUES` against serde, with the number of variants from an exhaustive match of
/// the variants listed: a new variant fails to compile here.
macro_rules! lists_exactly {
    ($enum:ident: $first:ident $(, $rest:ident)*) => {{
        let variants = |s: $enum| match s {
            $enum::$first $(| $enum::$rest)* => [stringify!($first) $(, stringify!($rest))*].len(),
        };
        matches_enum($enum::VALUES, variants($enum::$first), $enum::as_str);
    }};
}

#[test]
fn each_enum_lists_exactly_the_values_serde_stores() {
    lists_exactly! { ServiceRequestStatus: Active, InProgress, Completed, Recalled, EnteredInError }
    lists_exactly! { ProgramProcessingStatus: New, InQueue, InProgress, Completed }
    lists_exactly! {
        MergeRequestStatus: New, Approved, Rejected, Cancelled, Signed, Merged, Expired
    }
    lists_exactly! {
        DeviceDispenseStatus: InProgress, Completed, Declined, Stopped, EnteredInError, Unknown,
        Preparation, Canceled
    }
    lists_exactly! { ApprovalStatus: New, Active, Rejected, Cancelled, Expired }
    lists_exactly! {
        CarePlanActivityStatus: Scheduled, InProgress, Completed, Cancelled, EnteredInError
    }
}

#[test]
fn a_listed_table_is_ordered_by_an_instant_and_a_uuid_and_filters_columns_it_has() {
    for table in ALL {
        let Some(listing) = &table.listing else {
            continue;
        };
        let [instant, id] = listing.order.map(|c| table.column(c).unwrap().sql);
        assert_eq!(
            (instant, id),
            (Sql::Timestamptz, Sql::Uuid),
            "{}",
            table.name
        );
        for filter in listing.filters {
            let column = table.column(filter.column).unwrap();
            assert!(
                column.values.is_some() || column.sql == Sql::Uuid,
                "{}.{}: a filter takes enum values or uuids",
                table.name,
                column.name
            );
        }
    }
}

/// `(name, type, not null)` of each column of `table`, in order, as SQLite declares them.
async fn sqlite_columns(pool: &sqlx::SqlitePool, table: &str) -> Vec<(String, String, bool)> {
    sqlx::query_as(
        "SELECT name, type, \"notnull\" OR pk > 0 FROM pragma_table_info($1) ORDER BY cid",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The columns of `table` that the service writes: all but those with a database default
/// that no row sets.
fn written(table: &Table, columns: Vec<(String, String, bool)>) -> Vec<(String, String, bool)> {
    columns
        .into_iter()
        .filter(|(name, ..)| !(table.name == "status_change_events" && name == "inserted_at"))
        .collect()
}

/// `(name, type, NOT NULL)` of a table's declared columns, the type as `type_name` spells it.
fn declared(table: &Table, type_name: impl Fn(Sql) -> &'static str) -> Vec<(String, String, bool)> {
    let column = |c: &Column| {
        (
            c.name.to_string(),
            type_name(c.sql).to_string(),
            !c.nullable,
        )
    };
    table.columns.iter().map(column).collect()
}

#[tokio::test]
async fn the_declarations_are_the_sqlite_tables() {
    let pool = crate::test_db::sqlite().await;
    for table in ALL {
        let found = written(table, sqlite_columns(&pool, table.name).await);
        let declared = declared(table, |sql| match sql {
            Sql::Bigint => "INTEGER",
            _ => "TEXT",
        });
        assert_eq!(found, declared, "{}", table.name);
    }
}

#[tokio::test]
async fn the_declarations_are_the_postgres_tables() {
    let pool = crate::test_db::postgres().await;
    for table in ALL {
        let found: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
             WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        )
        .bind(table.name)
        .fetch_all(&pool)
        .await
        .unwrap();
        let declared = declared(table, |sql| match sql {
            Sql::Timestamptz => "timestamp with time zone",
            other => other.postgres(),
        });
        assert_eq!(written(table, found), declared, "{}", table.name);
    }
}
