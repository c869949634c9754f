//! The read models the handlers and workers read one entity at a time: an entity's stored state
//! (the projection's `document`), and the few lookups across entities the actions and workers need.
//! The list endpoints build their page queries themselves (`api::lists`), for either backend, and
//! the store runs the one of its backend ([`ReadModels::list_page`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Postgres, QueryBuilder, Sqlite};
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

    /// The rows of a list page, by the query built for this store's backend.
    async fn list_page(&self, page: &dyn PageQuery) -> Result<Vec<ListedRow>, sqlx::Error>;
}

/// A list page's query, as each backend writes it, and how each reads a row of it. `None` when
/// the page is known to be empty without asking.
pub trait PageQuery: Sync {
    fn postgres(&self) -> Option<QueryBuilder<'_, Postgres>>;
    fn sqlite(&self) -> Option<QueryBuilder<'_, Sqlite>>;
    fn read_postgres(&self, row: &PgRow) -> Result<ListedRow, sqlx::Error>;
    fn read_sqlite(&self, row: &SqliteRow) -> Result<ListedRow, sqlx::Error>;
}

/// A row of a list page, the same on both backends.
pub struct ListedRow {
    pub id: Uuid,
    pub updated_at: DateTime<Utc>,
    /// The stored state (JSON pages).
    pub document: Option<Value>,
    /// The CSV cells of the typed columns (CSV pages).
    pub cells: Vec<String>,
}

/// Approvals that a recall revokes.
pub(super) const IN_FORCE: &str = "status IN ('new', 'active')";
