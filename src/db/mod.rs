//! The two storage backends behind one handle: PostgreSQL (production, several instances) and an
//! embedded SQLite file (a single node that needs nothing installed). `DATABASE_URL` picks one: a
//! `postgres://` URL, a `sqlite:` URL, or nothing for `sqlite://./data/ehealth.db`.

mod postgres;
pub mod sqlite;

use postgres::connect_for_operations;
pub(crate) use postgres::generic_plan_pool;
pub use postgres::{connect, connect_with_deadline, migrate, DEFAULT_DEADLINE};
pub use sqlite::Lite;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{PgPool, Row};
use uuid::fmt::Hyphenated;
use uuid::Uuid;

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

/// The connection pool behind a backend's handle, for the storage code written once for both.
pub(crate) trait Pooled {
    type Database: sqlx::Database;
    fn pool(&self) -> &sqlx::Pool<Self::Database>;
}

impl Pooled for PgPool {
    type Database = sqlx::Postgres;
    fn pool(&self) -> &PgPool {
        self
    }
}

impl Pooled for Lite {
    type Database = sqlx::Sqlite;
    fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }
}

/// Reading a uuid column of a row, where the backends store uuids differently (PostgreSQL as
/// `uuid`, SQLite as hyphenated text), for the row readers written once for both.
pub(crate) trait UuidColumn {
    /// The uuid in `column`, `None` when it is NULL.
    fn uuid(&self, column: &str) -> Option<Uuid>;
}

impl UuidColumn for PgRow {
    fn uuid(&self, column: &str) -> Option<Uuid> {
        self.get(column)
    }
}

impl UuidColumn for SqliteRow {
    fn uuid(&self, column: &str) -> Option<Uuid> {
        self.get::<Option<Hyphenated>, _>(column)
            .map(Hyphenated::into_uuid)
    }
}

/// Connections of the workers' own pool: the effects worker's batch transaction, its lookups, the
/// SMS dispatcher.
const WORKER_CONNECTIONS: u32 = 4;

/// Connections kept for `/health/ready` and the gauges ([`Db::for_health`]).
const HEALTH_CONNECTIONS: u32 = 4;

/// Whether a database URL names SQLite (`sqlite:` scheme).
fn is_sqlite_url(url: &str) -> bool {
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

    /// The database an operations command works on (`projections rebuild|verify`, `audit
    /// verify`): on PostgreSQL a pool without the request deadline (its reads of the whole log are
    /// long by design); on SQLite the file, which must exist (these commands never create an
    /// empty database).
    pub async fn for_operations(url: &str) -> anyhow::Result<Db> {
        if !is_sqlite_url(url) {
            return Ok(Db::Postgres(connect_for_operations(url).await?));
        }
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
        let file = options.get_filename();
        if !file.exists() {
            anyhow::bail!(
                "there is no SQLite database at {}: check DATABASE_URL",
                file.display()
            );
        }
        Ok(Db::Sqlite(Lite::open(url, 2).await?))
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
    /// (PostgreSQL: connections of their own, not tested on acquire — the probe is the test —,
    /// every statement and wait bounded by `deadline`; SQLite: the same database).
    ///
    /// Four, opened at start: the gauges' reading holds one and then another, and a returned
    /// connection answers its after-release ping before it is pooled again (a round trip: over a
    /// link of 200 ms each way, 400 ms); with two, a probe could wait for both, then prepare its
    /// statement on the connection it got, and outlast its time.
    pub fn for_health(&self, deadline: std::time::Duration) -> Db {
        match self {
            Db::Postgres(pool) => {
                let ms = deadline.as_millis().max(1);
                let options = (*pool.connect_options()).clone().options([
                    ("statement_timeout", format!("{ms}ms")),
                    ("lock_timeout", format!("{ms}ms")),
                ]);
                Db::Postgres(
                    postgres::pool_options(HEALTH_CONNECTIONS)
                        // Opened at start: a probe never waits for a connection to be set up,
                        // which over a slow link takes several round trips.
                        .min_connections(HEALTH_CONNECTIONS)
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

    /// The PostgreSQL pool, for tools and tests that work on that backend only.
    pub fn postgres(&self) -> Option<&PgPool> {
        match self {
            Db::Postgres(pool) => Some(pool),
            Db::Sqlite(_) => None,
        }
    }

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

    pub async fn close(&self) {
        match self {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite(lite) => lite.pool.close().await,
        }
    }
}
