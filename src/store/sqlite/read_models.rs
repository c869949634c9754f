use async_trait::async_trait;
use serde_json::Value;
use sqlx::SqliteConnection;
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use crate::db::sqlite::id;
use crate::db::Lite;
use crate::store::read_models::{ReadModels, IN_FORCE};

pub(crate) struct SqliteReadModels(pub Lite);

#[async_trait]
impl ReadModels for SqliteReadModels {
    async fn document(&self, table: &str, id: Uuid) -> Result<Option<Value>, sqlx::Error> {
        let mut conn = self.0.pool.acquire().await?;
        Ok(
            ehealth_projections::load_document_sqlite(&mut conn, table, id)
                .await?
                .map(|text| serde_json::from_str(&text).unwrap_or_default()),
        )
    }

    async fn active_approvals_granted_to(
        &self,
        employees: &[Uuid],
    ) -> Result<Vec<Value>, sqlx::Error> {
        if employees.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = employees
            .iter()
            .map(|e| e.hyphenated().to_string())
            .collect();
        let documents: Vec<String> = sqlx::query_scalar(
            "SELECT document FROM approvals WHERE status = 'active' \
             AND granted_to IN (SELECT value FROM json_each($1))",
        )
        .bind(serde_json::to_string(&ids).unwrap_or_default())
        .fetch_all(&self.0.pool)
        .await?;
        Ok(documents
            .iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect())
    }
}

/// The stored states (as JSON text) of the service requests `ids`.
pub(super) async fn service_request_documents(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let mut documents = Vec::with_capacity(ids.len());
    for &sr in ids {
        if let Some(document) =
            ehealth_projections::load_document_sqlite(&mut *conn, "service_requests", sr).await?
        {
            documents.push((sr, document));
        }
    }
    Ok(documents)
}

/// `(approval, service request)` of the approvals in force made for the service requests `ids`,
/// in approval id order for each service request.
pub(super) async fn approvals_in_force(
    conn: &mut SqliteConnection,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let mut approvals = Vec::new();
    for &sr in ids {
        let made_for: Vec<Hyphenated> = sqlx::query_scalar(&format!(
            "SELECT id FROM approvals WHERE reason_service_request = $1 AND {IN_FORCE} \
             ORDER BY id"
        ))
        .bind(id(sr))
        .fetch_all(&mut *conn)
        .await?;
        approvals.extend(made_for.into_iter().map(|a| (a.into_uuid(), sr)));
    }
    Ok(approvals)
}

/// The salt of an approval's current OTP challenge.
pub(super) async fn current_salt(
    conn: &mut SqliteConnection,
    approval: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    Ok(sqlx::query_scalar::<_, Option<String>>(
        "SELECT json_extract(document, '$.record.otp.salt') FROM approvals WHERE id = $1",
    )
    .bind(id(approval))
    .fetch_optional(conn)
    .await?
    .flatten())
}
