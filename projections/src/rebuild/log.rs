//! Reading the event log in the feed's order, `(tx_id, global_position)`. A catch-up pass streams
//! the events below its horizon with one binary `COPY (SELECT …) TO STDOUT` (decoded by
//! `decode`); the rest, under the lock, is read page by page with ordinary queries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::PgConnection;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::decode::{LogChunk, LogDecoder, READ_CHUNK};
use super::engine::writer_settings;
use super::indexes::IndexQueue;
use super::options::Options;
use crate::rows::Tables;
use crate::{EventRef, Payload, ProjectionError};

/// A position in the log, in the feed's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cursor {
    pub tx_id: u64,
    pub position: i64,
}

/// One event as a rebuild reads it: the payload stays text until the fold deserializes it.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(super) struct LogEvent {
    pub(super) cursor: Cursor,
    pub(super) aggregate_type: String,
    pub(super) aggregate_id: String,
    pub(super) sequence: i64,
    pub(super) payload: String,
    pub(super) user_id: Option<Uuid>,
    pub(super) recorded_at: DateTime<Utc>,
}

pub(super) type LogRow = (
    String,
    i64,
    String,
    String,
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
);

impl LogEvent {
    pub(super) fn from_row(row: LogRow) -> Result<Self, ProjectionError> {
        let (tx_id, position, aggregate_type, aggregate_id, sequence, payload, user_id, at) = row;
        let tx_id = tx_id
            .parse()
            .map_err(|_| ProjectionError::Schema(format!("tx_id {tx_id} is not an xid8")))?;
        Ok(Self {
            cursor: Cursor { tx_id, position },
            aggregate_type,
            aggregate_id,
            sequence,
            payload,
            user_id: user_id.and_then(|u| Uuid::parse_str(&u).ok()),
            recorded_at: at,
        })
    }

    pub(super) fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            global_position: self.cursor.position,
            payload: Payload::Text(&self.payload),
            user_id: self.user_id,
            recorded_at: self.recorded_at,
        }
    }
}

/// The events after `$1/$2`, in the feed's order; `horizon` adds the catch-up bound. The ORDER BY
/// is qualified: a bare `tx_id` would name the select list's text column and sort `1000` before
/// `999`.
pub(super) fn log_query(horizon: bool, limit: bool) -> String {
    format!(
        "SELECT tx_id::text, global_position, aggregate_type, aggregate_id, sequence, \
         payload::text, metadata->>'user_id', recorded_at FROM events \
         WHERE (tx_id, global_position) > ($1::text::xid8, $2){} \
         ORDER BY events.tx_id, events.global_position{}",
        if horizon {
            " AND tx_id < $3::text::xid8"
        } else {
            ""
        },
        if limit { " LIMIT $3" } else { "" }
    )
}

/// The catch-up read: the events after `after` and below `horizon`, in the feed's order, as one
/// binary `COPY (SELECT …) TO STDOUT` (no per-row protocol or decoding overhead; the values are
/// inlined numbers, as COPY takes no parameters).
pub(super) fn copy_log_query(after: Cursor, horizon: u64) -> String {
    format!(
        "COPY (SELECT tx_id, global_position, aggregate_type, aggregate_id, sequence, \
         payload::text, metadata->>'user_id', recorded_at FROM events \
         WHERE (tx_id, global_position) > ('{}'::xid8, {}) AND tx_id < '{}'::xid8 \
         ORDER BY events.tx_id, events.global_position) TO STDOUT (FORMAT binary)",
        after.tx_id, after.position, horizon
    )
}

/// Runs the read; then, at the end of a first pass, the end-of-pass jobs (see [`IndexQueue`]) on
/// the reader's connection too, beside the two writers'.
pub(super) async fn read_then_help(
    read: impl std::future::Future<Output = Result<PgConnection, ProjectionError>>,
    queue: Option<Arc<IndexQueue>>,
    options: Options,
    tables: Tables,
) -> Result<PgConnection, ProjectionError> {
    let mut conn = read.await?;
    if let Some(queue) = queue {
        writer_settings(&mut conn, &options).await?;
        queue.run(&mut conn, &tables).await?;
        tracing::debug!(writer = "reader", "projections: jobs done");
    }
    Ok(conn)
}

/// Streams the log (see [`copy_log_query`]) to the fold in chunks; the fold hands the chunks back
/// through `spent`, so their buffers are reused instead of allocated anew.
pub(super) async fn stream_log(
    mut conn: PgConnection,
    after: Cursor,
    horizon: u64,
    events: mpsc::Sender<LogChunk>,
    mut spent: mpsc::UnboundedReceiver<LogChunk>,
) -> Result<PgConnection, ProjectionError> {
    // A read-only transaction: it never gets a transaction id, so it does not hold back the
    // feed's horizon. The plan must walk the feed index, never sort the whole log.
    sqlx::query("BEGIN READ ONLY").execute(&mut conn).await?;
    sqlx::query("SET LOCAL enable_sort = off")
        .execute(&mut conn)
        .await?;
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut conn)
        .await?;
    {
        let mut rows = conn.copy_out_raw(&copy_log_query(after, horizon)).await?;
        let mut decoder = LogDecoder::default();
        let mut chunk = LogChunk::new();
        let mut full = Vec::new();
        let mut blocked = Duration::ZERO;
        while let Some(message) = rows.try_next().await? {
            decoder.feed(
                &message,
                &mut chunk,
                READ_CHUNK,
                &mut full,
                || match spent.try_recv() {
                    Ok(mut reused) => {
                        reused.clear();
                        reused
                    }
                    Err(_) => LogChunk::new(),
                },
            )?;
            for ready in full.drain(..) {
                let t = Instant::now();
                let sent = events.send(ready).await;
                blocked += t.elapsed();
                if sent.is_err() {
                    // The fold stopped and says why; this connection is mid-COPY and is
                    // dropped with the failed rebuild.
                    return Err(ProjectionError::Task("the fold stopped reading".into()));
                }
            }
        }
        decoder.finish()?;
        tracing::debug!(?blocked, "projections: log read");
        if chunk.len() > 0 && events.send(chunk).await.is_err() {
            return Err(ProjectionError::Task("the fold stopped reading".into()));
        }
    }
    sqlx::query("ROLLBACK").execute(&mut conn).await?;
    Ok(conn)
}
