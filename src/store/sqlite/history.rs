use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;
use uuid::Uuid;

use crate::db::sqlite::{id as text_id, ts_bound};
use crate::db::Lite;
use crate::store::history::{History, HistoryEvent, PointInTime};

pub(crate) struct SqliteHistory(pub Lite);

#[async_trait]
impl History for SqliteHistory {
    /// No LATERAL on SQLite; the page does not refer to the count, so a plain join does.
    async fn page(
        &self,
        aggregate_type: &str,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<HistoryEvent>), sqlx::Error> {
        let rows = sqlx::query(
            "SELECT t.total, p.sequence, p.global_position, p.event_type, p.event_version, \
             p.payload, p.metadata, p.recorded_at \
             FROM (SELECT count(*) AS total FROM events \
                   WHERE aggregate_type = $1 AND aggregate_id = $2) t \
             LEFT JOIN (SELECT sequence, global_position, event_type, event_version, payload, \
                        metadata, recorded_at FROM events \
                        WHERE aggregate_type = $1 AND aggregate_id = $2 \
                        ORDER BY sequence LIMIT $3 OFFSET $4) p ON 1 \
             ORDER BY p.sequence",
        )
        .bind(aggregate_type)
        .bind(text_id(id))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.0.pool)
        .await?;
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
        Ok((total, events))
    }

    async fn until(
        &self,
        aggregate_type: &str,
        id: Uuid,
        point: PointInTime,
    ) -> Result<Vec<(i64, Value)>, sqlx::Error> {
        let query = match point {
            PointInTime::Version(v) => sqlx::query(point.sql()).bind(v),
            PointInTime::AsOf(t) => sqlx::query(point.sql()).bind(ts_bound(t)),
        };
        Ok(query
            .bind(aggregate_type)
            .bind(text_id(id))
            .fetch_all(&self.0.pool)
            .await?
            .iter()
            .map(|row| (row.get("sequence"), row.get::<Json<Value>, _>("payload").0))
            .collect())
    }
}
