//! The two storage backends behind one handle: PostgreSQL (production, several instances) and an
//! embedded SQLite file (a single node that needs nothing installed). `DATABASE_URL` picks one: a
//! `postgres://` URL, a `sqlite:` URL, or nothing for `sqlite://./data/ehealth.db`.

pub mod postgres;
mod probe;
pub mod sqlite;

pub use postgres::{
    connect, connect_for_operations, connect_with_deadline, generic_plan_pool, migrate,
    pool_options, DEFAULT_DEADLINE, MIGRATOR,
};

use sqlx::PgPool;

pub use sqlite::Lite;

/// Where the events, projections, jobs and reference data live.
#[derive(Clone)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(Lite),
}

impl From<PgPool> for Db {
    fn from(pool: PgPool) -> Self {
        Db::Postgres(pool)
    }
}

impl From<Lite> for Db {
    fn from(lite: Lite) -> Self {
        Db::Sqlite(lite)
    }
}

/// Whether a database URL names SQLite (`sqlite:` scheme).
/// Connections of the workers' own pool: the effects worker's batch transaction, its lookups, the
/// SMS dispatcher.
pub const WORKER_CONNECTIONS: u32 = 4;

pub fn is_sqlite_url(url: &str) -> bool {
    url.starts_with("sqlite:")
}

impl Db {
    /// Opens the backend named by `url` with a pool of at most `max_connections`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        if is_sqlite_url(url) {
            Ok(Db::Sqlite(Lite::open(url, max_connections).await?))
        } else {
            Ok(Db::Postgres(connect(url, max_connections).await?))
        }
    }

    /// Opens the backend named by `url`; on PostgreSQL no statement, lock wait or pool wait may
    /// take longer than `deadline`.
    pub async fn connect_with_deadline(
        url: &str,
        max_connections: u32,
        deadline: std::time::Duration,
    ) -> Result<Db, sqlx::Error> {
        if is_sqlite_url(url) {
            Ok(Db::Sqlite(Lite::open(url, max_connections).await?))
        } else {
            Ok(Db::Postgres(
                connect_with_deadline(url, max_connections, deadline).await?,
            ))
        }
    }

    /// The connections `/health/ready` probes with (and the gauges are read on), kept apart so
    /// that a burst of requests holding every pooled connection never makes readiness wait
    /// (PostgreSQL: two connections of their own, not tested on acquire — the probe is the test —,
    /// every statement and wait bounded by `deadline`; SQLite: the same database).
    pub fn for_health(&self, deadline: std::time::Duration) -> Db {
        match self {
            Db::Postgres(pool) => {
                let ms = deadline.as_millis().max(1);
                let options = (*pool.connect_options()).clone().options([
                    ("statement_timeout", format!("{ms}ms")),
                    ("lock_timeout", format!("{ms}ms")),
                ]);
                Db::Postgres(
                    postgres::pool_options(2)
                        // Opened at start: a probe never waits for a connection to be set up,
                        // which over a slow link takes several round trips.
                        .min_connections(2)
                        .acquire_timeout(deadline)
                        .before_acquire(|_, _| Box::pin(async { Ok(true) }))
                        .connect_lazy_with(options),
                )
            }
            Db::Sqlite(_) => self.clone(),
        }
    }

    /// Applies the backend's migrations (`migrations/postgres` or `migrations/sqlite`).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Db::Postgres(pool) => migrate(pool).await,
            Db::Sqlite(lite) => lite.migrate().await,
        }
    }

    /// `postgres` or `sqlite`, for logs and errors.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }

    /// The PostgreSQL pool, for the features only that backend has.
    pub fn postgres(&self) -> Option<&PgPool> {
        match self {
            Db::Postgres(pool) => Some(pool),
            Db::Sqlite(_) => None,
        }
    }

    /// The stored state (projection `document`) of one entity of `table`, if it has a row. A
    /// SQLite document that is not JSON reads as `Null`, which no entity deserializes from.
    /// The connections of the background workers: on PostgreSQL a small pool of their own with
    /// the same settings, so that a burst of requests holding every connection of the main pool
    /// never makes the feed subscriber wait (job latency); on SQLite the same database.
    pub fn for_workers(&self) -> Db {
        match self {
            Db::Postgres(pool) => Db::Postgres(
                postgres::pool_options(WORKER_CONNECTIONS)
                    .connect_lazy_with((*pool.connect_options()).clone()),
            ),
            Db::Sqlite(_) => self.clone(),
        }
    }

    pub async fn document(
        &self,
        table: &str,
        id: uuid::Uuid,
    ) -> Result<Option<serde_json::Value>, sqlx::Error> {
        match self {
            Db::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                ehealth_projections::load_document(&mut conn, table, id).await
            }
            Db::Sqlite(lite) => {
                let mut conn = lite.pool.acquire().await?;
                Ok(
                    ehealth_projections::load_document_sqlite(&mut conn, table, id)
                        .await?
                        .map(|text| serde_json::from_str(&text).unwrap_or_default()),
                )
            }
        }
    }

    /// The stored states of the active approvals granted to any of `employees`.
    pub async fn active_approvals_granted_to(
        &self,
        employees: &[uuid::Uuid],
    ) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        if employees.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Db::Postgres(pool) => sqlx::query_scalar(
                "SELECT document FROM approvals WHERE granted_to = ANY($1) AND status = 'active'",
            )
            .bind(employees)
            .fetch_all(pool)
            .await,
            Db::Sqlite(lite) => {
                let ids: Vec<String> = employees
                    .iter()
                    .map(|e| e.hyphenated().to_string())
                    .collect();
                let documents: Vec<String> = sqlx::query_scalar(
                    "SELECT document FROM approvals WHERE status = 'active' \
                     AND granted_to IN (SELECT value FROM json_each($1))",
                )
                .bind(serde_json::to_string(&ids).unwrap_or_default())
                .fetch_all(&lite.pool)
                .await?;
                Ok(documents
                    .iter()
                    .filter_map(|d| serde_json::from_str(d).ok())
                    .collect())
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite(lite) => lite.pool.close().await,
        }
    }
}
