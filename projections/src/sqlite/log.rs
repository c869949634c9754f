//! The whole SQLite event log folded into projection rows: what `projections rebuild` and
//! `projections verify` share on this backend.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::{EventRef, Fold, Payload, ProjectionError};

/// Events read per statement.
const CHUNK: i64 = 5_000;

/// `global_position, aggregate_type, aggregate_id, sequence, payload, metadata.user_id,
/// recorded_at`.
type LogRow = (
    i64,
    String,
    String,
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
);

/// Folds every event of `main.events`, in `global_position` order (commit order on this backend),
/// with a [`Fold`] that starts from empty tables, and writes the rows with the live path's own
/// statements ([`Batch::write_sqlite`](crate::Batch::write_sqlite)) into the projection tables the
/// connection resolves by name. Status history and feed rows are written after every chunk of
/// events, each entity's row once at the end (its latest state). Returns the events folded.
///
/// Reads and writes go through `conn` only, so inside one transaction the log is one snapshot.
pub(crate) async fn fold_log(conn: &mut SqliteConnection) -> Result<u64, ProjectionError> {
    let mut fold = Fold::from_empty();
    let mut after = 0i64;
    let mut events = 0u64;
    loop {
        // `metadata.user_id` as `StoredEvent::user_id` reads it: a string, else nothing.
        let rows: Vec<LogRow> = sqlx::query_as(
            "SELECT global_position, aggregate_type, aggregate_id, sequence, payload, \
             CASE WHEN json_valid(metadata) AND json_type(metadata, '$.user_id') = 'text' \
             THEN json_extract(metadata, '$.user_id') END, recorded_at \
             FROM main.events WHERE global_position > $1 ORDER BY global_position LIMIT $2",
        )
        .bind(after)
        .bind(CHUNK)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (position, aggregate_type, aggregate_id, sequence, payload, user, at) in &rows {
            fold.apply(&EventRef {
                aggregate_type,
                aggregate_id,
                sequence: *sequence,
                global_position: *position,
                payload: Payload::Text(payload),
                user_id: user.as_deref().and_then(|u| Uuid::parse_str(u).ok()),
                recorded_at: *at,
            })?;
        }
        events += rows.len() as u64;
        fold.take_batch(false)?.write_sqlite(conn).await?;
        if (rows.len() as i64) < CHUNK {
            break;
        }
    }
    fold.take_batch(true)?.write_sqlite(conn).await?;
    Ok(events)
}
