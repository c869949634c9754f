//! Reading an entity's current state from its projection table.

use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;
use crate::app::AppState;

/// The stored aggregate state of one entity of `table`, if it exists.
pub async fn document<A: DeserializeOwned>(
    app: &AppState,
    table: &str,
    id: Uuid,
) -> Result<Option<A>, ApiError> {
    let mut conn = app.pool.acquire().await?;
    let Some(doc) = ehealth_projections::load_document(&mut conn, table, id).await? else {
        return Ok(None);
    };
    serde_json::from_value(doc).map(Some).map_err(|err| {
        tracing::error!(error = %err, table, %id, "stored document unreadable");
        ApiError::internal()
    })
}
