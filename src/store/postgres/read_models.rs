use async_trait::async_trait;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::store::read_models::{ReadModels, IN_FORCE};

pub(crate) struct PgReadModels(pub PgPool);

#[async_trait]
impl ReadModels for PgReadModels {
    async fn document(&self, table: &str, id: Uuid) -> Result<Option<Value>, sqlx::Error> {
        let mut conn = self.0.acquire().await?;
        ehealth_projections::load_document(&mut conn, table, id).await
    }

    async fn active_approvals_granted_to(
        &self,
        employees: &[Uuid],
    ) -> Result<Vec<Value>, sqlx::Error> {
        if employees.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query_scalar(
            "SELECT document FROM approvals WHERE granted_to = ANY($1) AND status = 'active'",
        )
        .bind(employees)
        .fetch_all(&self.0)
        .await
    }
}

/// The stored states (as JSON text) of the service requests `ids`.
pub(super) async fn service_request_documents(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, document::text FROM service_requests WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// `(approval, service request)` of the approvals in force made for the service requests `ids`,
/// in approval id order.
pub(super) async fn approvals_in_force(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT id, reason_service_request FROM approvals \
         WHERE reason_service_request = ANY($1) AND {IN_FORCE} ORDER BY id"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// The salt of an approval's current OTP challenge.
pub(super) async fn current_salt(
    conn: &mut PgConnection,
    approval: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT document->'record'->'otp'->>'salt' FROM approvals WHERE id = $1",
    )
    .bind(approval)
    .fetch_optional(conn)
    .await?
    .flatten())
}
