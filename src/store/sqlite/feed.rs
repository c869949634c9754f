//! The feed on SQLite. Writes are serialized, so an event's position is also its commit order and
//! the feed reads plainly past the checkpoint's position (`tx_id` stays 0). A pass reads its
//! batch and plans it outside the write transaction (Recall's revocations are commands, each a
//! write transaction of its own, and SQLite has one writer); the effects and the checkpoint then
//! commit together, if no other pass moved the checkpoint meanwhile. A crash before that commit
//! redoes the batch: revocations are idempotent and the SMS insert is keyed by its source event.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ehealth_projections::StoredEvent;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use super::{jobs, read_models, sms_outbox};
use crate::db::sqlite::ts;
use crate::db::Lite;
use crate::store::feed::{Effects, Feed, FeedBatch, FeedCursor, Recalled};

pub(crate) struct SqliteFeed(pub Lite);

#[async_trait]
impl Feed for SqliteFeed {
    async fn next_batch(
        &self,
        subscriber: &'static str,
        limit: i64,
    ) -> Result<Option<Box<dyn FeedBatch>>, sqlx::Error> {
        let mut conn = self.0.pool.acquire().await?;
        let cursor = checkpoint(&mut conn, subscriber).await?;
        let events = read_after(&mut conn, cursor, limit).await?;
        if events.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(SqliteBatch {
            lite: self.0.clone(),
            subscriber,
            cursor,
            events,
        })))
    }

    async fn lag(&self, subscriber: &str) -> Result<i64, sqlx::Error> {
        lag(&mut *self.0.pool.acquire().await?, subscriber).await
    }
}

struct SqliteBatch {
    lite: Lite,
    subscriber: &'static str,
    /// The checkpoint the batch was read after.
    cursor: FeedCursor,
    events: Vec<(FeedCursor, StoredEvent)>,
}

#[async_trait]
impl FeedBatch for SqliteBatch {
    fn events(&self) -> &[(FeedCursor, StoredEvent)] {
        &self.events
    }

    async fn recalled(&mut self, ids: &[Uuid]) -> Result<Recalled, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Recalled::default());
        }
        let mut conn = self.lite.pool.acquire().await?;
        Ok(Recalled {
            documents: read_models::service_request_documents(&mut conn, ids).await?,
            approvals_in_force: read_models::approvals_in_force(&mut conn, ids).await?,
        })
    }

    async fn commit(self: Box<Self>, effects: &Effects) -> Result<Option<bool>, sqlx::Error> {
        let mut tx = self.lite.begin_write().await?;
        if checkpoint(tx.conn(), self.subscriber).await? != self.cursor {
            tx.rollback().await?;
            return Ok(None);
        }
        let now = ts(Utc::now());
        let queued = sms_outbox::queue(tx.conn(), &effects.sms, &now).await?;
        jobs::finish_with_links(tx.conn(), &effects.finished, &now).await?;
        let last = self
            .events
            .last()
            .map(|(cursor, _)| *cursor)
            .unwrap_or_default();
        save_checkpoint(tx.conn(), self.subscriber, last).await?;
        tx.commit().await?;
        Ok(Some(queued))
    }
}

/// The subscriber's checkpoint (the start of the feed if it has none).
async fn checkpoint(conn: &mut SqliteConnection, name: &str) -> Result<FeedCursor, sqlx::Error> {
    let position: Option<i64> =
        sqlx::query_scalar("SELECT last_position FROM subscriber_checkpoints WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(FeedCursor {
        tx_id: 0,
        position: position.unwrap_or(0),
    })
}

async fn save_checkpoint(
    conn: &mut SqliteConnection,
    name: &str,
    cursor: FeedCursor,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subscriber_checkpoints (name, last_position, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET last_position = excluded.last_position, \
         updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(cursor.position)
    .bind(ts(Utc::now()))
    .execute(conn)
    .await?;
    Ok(())
}

/// The next events after `cursor`, in position order.
async fn read_after(
    conn: &mut SqliteConnection,
    cursor: FeedCursor,
    limit: i64,
) -> Result<Vec<(FeedCursor, StoredEvent)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, payload, \
         metadata, recorded_at FROM events WHERE global_position > $1 \
         ORDER BY global_position LIMIT $2",
    )
    .bind(cursor.position)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let position: i64 = row.get("global_position");
            let event = StoredEvent {
                global_position: position,
                aggregate_type: row.get("aggregate_type"),
                aggregate_id: row.get("aggregate_id"),
                sequence: row.get("sequence"),
                event_type: row.get("event_type"),
                payload: row.get::<Json<Value>, _>("payload").0,
                metadata: row.get::<Json<Value>, _>("metadata").0,
                recorded_at: row.get::<DateTime<Utc>, _>("recorded_at"),
            };
            (FeedCursor { tx_id: 0, position }, event)
        })
        .collect())
}

/// How many events the subscriber has not processed yet.
pub(super) async fn lag(conn: &mut SqliteConnection, name: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE global_position > \
         coalesce((SELECT last_position FROM subscriber_checkpoints WHERE name = $1), 0)",
    )
    .bind(name)
    .fetch_one(conn)
    .await
}
