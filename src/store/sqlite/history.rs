use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use crate::db::sqlite::{id as text_id, ts_bound};
use crate::db::Lite;
use crate::store::history::{History, HistoryEvent, PointInTime, PAGE};

pub(crate) struct SqliteHistory(pub Lite);

#[async_trait]
impl History for SqliteHistory {
    async fn page(
        &self,
        aggregate_type: &str,
        id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<HistoryEvent>), sqlx::Error> {
        let rows = sqlx::query(PAGE)
            .bind(aggregate_type)
            .bind(text_id(id))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.0.pool)
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
            PointInTime::AsOf(t) => sqlx::query(point.sql()).bind(ts_bound(t)),
        };
        let rows = query
            .bind(aggregate_type)
            .bind(text_id(id))
            .fetch_all(&self.0.pool)
            .await?;
        Ok(PointInTime::events(&rows))
    }
}
