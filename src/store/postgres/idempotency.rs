use async_trait::async_trait;
use serde_json::Value;
use sqlx::PgPool;

use crate::store::idempotency::{Idempotency, Processed, PROCESSED, REMEMBER_RESPONSE};

pub(crate) struct PgIdempotency(pub PgPool);

#[async_trait]
impl Idempotency for PgIdempotency {
    async fn processed(&self, command_id: &str) -> Result<Option<Processed>, sqlx::Error> {
        let row: Option<(String, Option<Value>)> = sqlx::query_as(PROCESSED)
            .bind(command_id)
            .fetch_optional(&self.0)
            .await?;
        Ok(row.map(|(request_hash, response)| Processed {
            request_hash,
            response,
        }))
    }

    async fn remember_response(
        &self,
        command_id: &str,
        response: Value,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(REMEMBER_RESPONSE)
            .bind(command_id)
            .bind(response)
            .execute(&self.0)
            .await
            .map(drop)
    }
}
