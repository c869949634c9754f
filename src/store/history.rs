//! The event log as auditors read it: an entity's events one page at a time (its history), and its
//! events up to a past point (to rebuild the state it had then). Reads only, so they could be
//! served by a replica.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

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

impl PointInTime {
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
