//! The event store on SQLite: loads, and the append transaction (`BEGIN IMMEDIATE` behind the
//! process's write gate). The global position is the events table's AUTOINCREMENT key, assigned
//! inside the one write transaction there can be at a time, so positions commit in order and the
//! feed can simply read past its checkpoint.

use cqrs_es::persist::{PersistenceError, ReplayStream, SerializedEvent};
use serde_json::Value;
use sqlx::types::Json;

use super::{
    chain, map_projection, map_sqlx, stored_events, Appended, ChainHead, CommandContext, Conn,
};
use crate::db::sqlite::ts;
use crate::db::Lite;

type EventRow = (
    String,
    String,
    i64,
    String,
    String,
    Json<Value>,
    Json<Value>,
);

fn serialized(row: EventRow) -> SerializedEvent {
    let (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) =
        row;
    SerializedEvent::new(
        aggregate_id,
        sequence as usize,
        aggregate_type,
        event_type,
        event_version,
        payload.0,
        metadata.0,
    )
}

const COLUMNS: &str =
    "aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata";

/// The events of one aggregate after `after_sequence`, in order.
pub(super) async fn events(
    lite: &Lite,
    aggregate_type: &str,
    aggregate_id: &str,
    after_sequence: i64,
) -> Result<Vec<SerializedEvent>, sqlx::Error> {
    let rows: Vec<EventRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events \
         WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence"
    ))
    .bind(aggregate_type)
    .bind(aggregate_id)
    .bind(after_sequence)
    .fetch_all(&lite.pool)
    .await?;
    Ok(rows.into_iter().map(serialized).collect())
}

/// Every event of an aggregate type, in log order.
pub(super) async fn all_events(
    lite: &Lite,
    aggregate_type: &str,
) -> Result<Vec<SerializedEvent>, sqlx::Error> {
    let rows: Vec<EventRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events WHERE aggregate_type = $1 ORDER BY global_position"
    ))
    .bind(aggregate_type)
    .fetch_all(&lite.pool)
    .await?;
    Ok(rows.into_iter().map(serialized).collect())
}

/// A replay stream over events already read.
pub(super) async fn replay(events: Vec<SerializedEvent>) -> ReplayStream {
    let (feed, stream) = ReplayStream::new(events.len() + 1);
    tokio::spawn(async move {
        let mut feed = feed;
        for event in events {
            if feed.push(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    stream
}

/// One append transaction: idempotency record and job, the hash chain (from `known`, the
/// aggregate's newest event, when the caller has it), the events (positions assigned here) and the
/// projections, committed together.
pub(super) async fn persist(
    lite: &Lite,
    context: Option<&CommandContext>,
    events: &[SerializedEvent],
    last: i64,
    known: Option<&ChainHead>,
) -> Result<Appended, PersistenceError> {
    let mut tx = lite.begin_write().await.map_err(map_sqlx)?;
    if let Some(ctx) = context {
        ctx.write_sqlite(tx.conn(), &events[0], last)
            .await
            .map_err(map_sqlx)?;
    }
    let chained = chain(Conn::Sqlite(tx.conn()), events, known)
        .await
        .map_err(map_sqlx)?;
    let mut positions = Vec::with_capacity(events.len());
    for (e, c) in events.iter().zip(&chained) {
        let position: i64 = sqlx::query_scalar(
            "INSERT INTO events (recorded_at, aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING global_position",
        )
        .bind(ts(c.recorded_at))
        .bind(&e.aggregate_type)
        .bind(&e.aggregate_id)
        .bind(e.sequence as i64)
        .bind(&e.event_type)
        .bind(&e.event_version)
        .bind(Json(&e.payload))
        .bind(Json(&e.metadata))
        .bind(c.prev_hash.as_deref())
        .bind(c.hash.as_slice())
        .fetch_one(tx.conn())
        .await
        .map_err(map_sqlx)?;
        positions.push(position);
    }
    let mut next = positions.iter();
    let stored = stored_events(events, &chained, |_| next.next().copied().unwrap_or(0));
    ehealth_projections::project_sqlite(tx.conn(), &stored)
        .await
        .map_err(map_projection)?;
    tx.commit().await.map_err(map_sqlx)?;
    let head = chained.last().map(|c| ChainHead {
        sequence: last,
        hash: Some(c.hash.clone()),
        recorded_at: c.recorded_at,
    });
    Ok(Appended {
        events: stored,
        head,
    })
}
