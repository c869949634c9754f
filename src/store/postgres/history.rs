use async_trait::async_trait;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::history::{History, HistoryEvent, PointInTime, PAGE};

pub(crate) struct PgHistory(pub PgPool);

#[async_trait]
impl History for PgHistory {
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
            .fetch_all(&self.0)
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
            PointInTime::AsOf(t) => sqlx::query(point.sql()).bind(t),
        };
        let rows = query
            .bind(aggregate_type)
            .bind(id.to_string())
            .fetch_all(&self.0)
            .await?;
        Ok(PointInTime::events(&rows))
    }
}
