//! The read models the handlers and workers read one entity at a time: an entity's stored state
//! (the projection's `document`), and the few lookups across entities the actions and workers need.
//! The list endpoints query the projections themselves (`api::lists`).

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

#[async_trait]
pub trait ReadModels: Send + Sync {
    /// The stored state (projection `document`) of one entity of `table`, if it has a row. A
    /// SQLite document that is not JSON reads as `Null`, which no entity deserializes from.
    async fn document(&self, table: &str, id: Uuid) -> Result<Option<Value>, sqlx::Error>;

    /// The stored states of the active approvals granted to any of `employees`.
    async fn active_approvals_granted_to(
        &self,
        employees: &[Uuid],
    ) -> Result<Vec<Value>, sqlx::Error>;
}

/// Approvals that a recall revokes.
pub(super) const IN_FORCE: &str = "status IN ('new', 'active')";
