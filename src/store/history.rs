//! The event log as auditors read it: an entity's events one page at a time (its history), and its
//! events up to a past point (to rebuild the state it had then). Reads only, so they could be
//! served by a replica.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, PgPool, Row, Type};
use uuid::Uuid;

use crate::db::sqlite::ts_bound;
use crate::db::{Lite, Pooled};

#[async_trait]
pub trait History: Send + Sync {
    /// One page (`limit`, `offset`) of an entity's events in sequence order, and how many it has
    /// in all — read by one statement, so both describe the same snapshot of the log.
    async fn page(
        &self,
        aggregate_type: &str,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<HistoryEvent>), sqlx::Error>;

    /// `(sequence, payload)` of an entity's events up to `point`, in sequence order.
    async fn until(
        &self,
        aggregate_type: &str,
        id: Uuid,
        point: PointInTime,
    ) -> Result<Vec<(i64, Value)>, sqlx::Error>;
}

/// A past point of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointInTime {
    /// After the event with this sequence (the entity's `version`); 0 is before it existed.
    Version(i64),
    /// After every event recorded at or before this instant (the log's clock, `recorded_at`).
    AsOf(DateTime<Utc>),
}

/// One event of a history page.
pub struct HistoryEvent {
    pub sequence: i64,
    pub global_position: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

/// One page of an entity's events and how many it has, read by one statement (the same on both
/// backends). Binds the aggregate type, its id, the limit and the offset. The page does not refer
/// to the count, so a plain join does (SQLite has no LATERAL); an entity without events on the
/// page answers one row, the count's, with a NULL `sequence`.
pub(super) const PAGE: &str = "SELECT t.total, p.sequence, p.global_position, p.event_type, \
     p.event_version, p.payload, p.metadata, p.recorded_at \
     FROM (SELECT count(*) AS total FROM events \
           WHERE aggregate_type = $1 AND aggregate_id = $2) t \
     LEFT JOIN (SELECT sequence, global_position, event_type, event_version, payload, \
                metadata, recorded_at FROM events \
                WHERE aggregate_type = $1 AND aggregate_id = $2 \
                ORDER BY sequence LIMIT $3 OFFSET $4) p ON true \
     ORDER BY p.sequence";

impl HistoryEvent {
    /// The count and the events of the rows of [`PAGE`], on either backend (JSON decodes from
    /// `jsonb` and from text alike).
    pub(super) fn page<'r, R: Row>(rows: &'r [R]) -> (i64, Vec<Self>)
    where
        &'static str: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        Json<Value>: Decode<'r, R::Database> + Type<R::Database>,
        DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let total: i64 = rows.first().map_or(0, |r| r.get("total"));
        let events = rows
            .iter()
            .filter_map(|row| {
                Some(HistoryEvent {
                    sequence: row.get::<Option<i64>, _>("sequence")?,
                    global_position: row.get("global_position"),
                    event_type: row.get("event_type"),
                    event_version: row.get("event_version"),
                    payload: row.get::<Json<Value>, _>("payload").0,
                    metadata: row.get::<Json<Value>, _>("metadata").0,
                    recorded_at: row.get("recorded_at"),
                })
            })
            .collect();
        (total, events)
    }
}

impl PointInTime {
    /// `(sequence, payload)` of the rows of [`PointInTime::sql`], on either backend.
    pub(super) fn events<'r, R: Row>(rows: &'r [R]) -> Vec<(i64, Value)>
    where
        &'static str: ColumnIndex<R>,
        i64: Decode<'r, R::Database> + Type<R::Database>,
        Json<Value>: Decode<'r, R::Database> + Type<R::Database>,
    {
        rows.iter()
            .map(|row| (row.get("sequence"), row.get::<Json<Value>, _>("payload").0))
            .collect()
    }

    /// The statement reading up to the point (the same on both backends); the primary key
    /// `(aggregate_type, aggregate_id, sequence)` serves both bounds. Binds the bound, then the
    /// aggregate type and id.
    pub(super) fn sql(&self) -> &'static str {
        match self {
            PointInTime::Version(_) => {
                "SELECT sequence, payload FROM events \
                 WHERE sequence <= $1 AND aggregate_type = $2 AND aggregate_id = $3 \
                 ORDER BY sequence"
            }
            PointInTime::AsOf(_) => {
                "SELECT sequence, payload FROM events \
                 WHERE recorded_at <= $1 AND aggregate_type = $2 AND aggregate_id = $3 \
                 ORDER BY sequence"
            }
        }
    }
}

/// The [`History`] of a backend: `$name` over its handle `$handle`. The statements and the reading
/// of their rows are the same on both backends (aggregate ids are text on both); only an
/// [`PointInTime::AsOf`] bound is bound as the backend stores instants, by `$instant`.
macro_rules! history {
    ($name:ident($handle:ty), instant: $instant:expr) => {
        pub(crate) struct $name(pub $handle);

        #[async_trait]
        impl History for $name {
            async fn page(
                &self,
                aggregate_type: &str,
                id: Uuid,
                limit: i64,
                offset: i64,
            ) -> Result<(i64, Vec<HistoryEvent>), sqlx::Error> {
                let rows = sqlx::query(PAGE)
                    .bind(aggregate_type)
                    .bind(id.to_string())
                    .bind(limit)
                    .bind(offset)
                    .fetch_all(Pooled::pool(&self.0))
                    .await?;
                Ok(HistoryEvent::page(&rows))
            }

            async fn until(
                &self,
                aggregate_type: &str,
                id: Uuid,
                point: PointInTime,
            ) -> Result<Vec<(i64, Value)>, sqlx::Error> {
                let query = match point {
                    PointInTime::Version(v) => sqlx::query(point.sql()).bind(v),
                    PointInTime::AsOf(t) => sqlx::query(point.sql()).bind(($instant)(t)),
                };
                let rows = query
                    .bind(aggregate_type)
                    .bind(id.to_string())
                    .fetch_all(Pooled::pool(&self.0))
                    .await?;
                Ok(PointInTime::events(&rows))
            }
        }
    };
}

history!(PgHistory(PgPool), instant: |t: DateTime<Utc>| t);
history!(SqliteHistory(Lite), instant: ts_bound);
