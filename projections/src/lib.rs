//! The read side of ehealth-es. [`project`] applies committed events to the typed current-state
//! tables, the status history and the Event Manager status-change feed. It runs inside the same
//! database transaction that appends the events, so the projections are exactly as durable as the
//! events; a rebuild runs the same function over the event log in global order.

mod entities;
mod status;
mod stored_event;

pub use entities::load_document;
pub use status::{StatusChange, ENTITY_TYPES};
pub use stored_event::StoredEvent;

use ehealth_aggregates::{Approval, DeviceDispense, MergeRequest, ServiceRequest};
use sqlx::PgConnection;

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
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Applies events to every projection. Events of one aggregate must be contiguous and in sequence
/// order (as one commit is); events of several aggregates may be mixed.
pub async fn project(
    conn: &mut PgConnection,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let mut start = 0;
    while start < events.len() {
        let first = &events[start];
        let end = events[start..]
            .iter()
            .position(|e| {
                e.aggregate_type != first.aggregate_type || e.aggregate_id != first.aggregate_id
            })
            .map_or(events.len(), |offset| start + offset);
        let run = &events[start..end];
        match first.aggregate_type.as_str() {
            "ServiceRequest" => entities::project_run::<ServiceRequest>(conn, run).await?,
            "MergeRequest" => entities::project_run::<MergeRequest>(conn, run).await?,
            "DeviceDispense" => entities::project_run::<DeviceDispense>(conn, run).await?,
            "Approval" => entities::project_run::<Approval>(conn, run).await?,
            other => return Err(ProjectionError::UnknownAggregate(other.to_string())),
        }
        start = end;
    }
    Ok(())
}
