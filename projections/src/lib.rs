//! The read side of ehealth-es. The live path applies committed events to the typed current-state
//! tables, the status history and the Event Manager status-change feed as part of the append that
//! commits them, so the projections are exactly as durable as the events: on PostgreSQL the
//! [`Fold`]'s [`Batch`] becomes CTEs of the one append statement ([`Batch::append_ctes`]); on
//! SQLite [`project_sqlite`] writes it in the append transaction.
//!
//! [`rebuild`] rebuilds every projection from the event log while the service keeps running, and
//! [`verify`] rebuilds aside and compares with the live tables. Both fold events with the same
//! [`Fold`] as the live path, so a rebuild computes exactly the rows the live path wrote.
//!
//! Each table is declared once, in [`tables`] (see `table` for how): its row type and every
//! statement that writes it on either backend derive from the declaration, and so do the list
//! endpoints' filters, enum values, order and CSV columns, and the projection tables of the data
//! dictionary in `docs/analysts.md` (a test keeps them equal).
//! [`visibility`] turns the domain's rule of who may see an entity into SQL conditions.

mod copy;
mod entities;
mod fold;
pub mod rebuild;
mod rows;
pub mod sqlite;
mod status;
mod stored_event;
mod table;
pub mod tables;
#[cfg(test)]
mod test_db;
pub mod verify;
pub mod visibility;

pub use entities::{load_document, load_document_sqlite};
pub use fold::{Batch, Fold};
pub use rows::{Tables, TABLES};
pub use stored_event::{EventRef, Payload, StoredEvent};
pub use table::{Column, Conflict, Filter, Listing, Sql, Table};

use sqlx::SqliteConnection;

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error("event {aggregate_type}/{aggregate_id}#{sequence} cannot be read: {source}")]
    Payload {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
        source: serde_json::Error,
    },
    #[error("stored {table} document for {id} cannot be read: {source}")]
    Document {
        table: &'static str,
        id: String,
        source: serde_json::Error,
    },
    #[error("unknown aggregate type {0}")]
    UnknownAggregate(String),
    #[error("aggregate id {0} is not a uuid")]
    BadId(String),
    #[error(
        "event {aggregate_type}/{aggregate_id}#{sequence} arrived after version {version} was \
         projected (an event read twice or out of order)"
    )]
    OutOfOrder {
        aggregate_type: &'static str,
        aggregate_id: String,
        sequence: i64,
        version: i64,
    },
    #[error("the state of {0} was not loaded before its events were applied")]
    NotLoaded(String),
    #[error("another projections rebuild or verify is running on this database")]
    Busy,
    #[error("the event log could not be locked: {0}")]
    LockTimeout(String),
    #[error("the projection tables are not as expected: {0}")]
    Schema(String),
    #[error("a rebuild task failed: {0}")]
    Task(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// The live path on the embedded SQLite backend: the same fold and the same rows as on PostgreSQL
/// (where they are written by the append statement, [`Batch::append_ctes`]), written with
/// per-row upserts into the live tables. Runs inside the SQLite transaction that appends the events.
pub async fn project_sqlite(
    conn: &mut SqliteConnection,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let events: Vec<EventRef<'_>> = events.iter().map(StoredEvent::as_ref).collect();
    let mut fold = Fold::over_existing();
    fold.load_sqlite(conn, &events).await?;
    for event in &events {
        fold.apply(event)?;
    }
    fold.take_batch(true)?.write_sqlite(conn).await?;
    Ok(())
}
