//! How the projections store values on the embedded SQLite backend (migrations/sqlite): uuids as
//! lower-case hyphenated TEXT, instants as fixed-width UTC TEXT (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, so
//! that text order is time order), JSON documents as TEXT.
//!
//! The SQLite statements are generated from the same table declarations as the PostgreSQL ones
//! (`table::sql`) and write the same rows the same [`Fold`](crate::Fold) computes, so the two
//! backends cannot diverge in what they project.
//!
//! The operations commands on this backend: [`rebuild`] (inside one write transaction) and
//! [`verify`] (in one read transaction, against in-memory copies), both folding the whole log with
//! the live path's fold.

mod log;
pub mod rebuild;
pub mod verify;

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::fmt::Hyphenated;
use uuid::Uuid;

/// Ids per `IN (…)` list when loading states (far below SQLite's bound-parameter limit).
pub(crate) const LOAD_CHUNK: usize = 500;

/// An instant as stored: fixed-width UTC with microseconds (PostgreSQL's precision too).
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An optional instant, NULL when absent.
pub(crate) fn opt_ts(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(ts)
}

/// A uuid as stored (binds as lower-case hyphenated TEXT; a bare `Uuid` would bind as a BLOB).
pub fn id(id: Uuid) -> Hyphenated {
    id.hyphenated()
}

/// An optional uuid, NULL when absent.
pub(crate) fn opt_id(id: Option<Uuid>) -> Option<Hyphenated> {
    id.map(Uuid::hyphenated)
}

/// `$1, $2, …, $n`.
pub(crate) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_operations;
