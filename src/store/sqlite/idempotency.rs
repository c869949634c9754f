use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;

use crate::db::Lite;
use crate::store::idempotency::{Idempotency, Processed, PROCESSED, REMEMBER_RESPONSE};

pub(crate) struct SqliteIdempotency(pub Lite);

#[async_trait]
impl Idempotency for SqliteIdempotency {
    async fn processed(&self, command_id: &str) -> Result<Option<Processed>, sqlx::Error> {
        let row: Option<(String, Option<Json<Value>>)> = sqlx::query_as(PROCESSED)
            .bind(command_id)
            .fetch_optional(&self.0.pool)
            .await?;
        Ok(row.map(|(request_hash, response)| Processed {
            request_hash,
            response: response.map(|r| r.0),
        }))
    }

    async fn remember_response(
        &self,
        command_id: &str,
        response: Value,
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(REMEMBER_RESPONSE)
            .bind(command_id)
            .bind(Json(response))
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }
}
