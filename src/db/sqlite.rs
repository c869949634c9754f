//! The embedded SQLite backend: one database file, WAL journal, `synchronous = FULL` (an
//! acknowledged commit survives a power cut), foreign writers kept out with `BEGIN IMMEDIATE`.
//!
//! SQLite has one writer at a time. Instead of letting concurrent writers spin in SQLite's busy
//! handler, the process queues them on an async gate ([`Lite::begin_write`]); `busy_timeout` still
//! covers another process (an `import` run next to `serve`). Readers never wait: WAL lets them
//! read the last committed state while a write is in progress.
//!
//! Storage conventions (migrations/sqlite/0001_schema.sql): uuids as lower-case hyphenated TEXT,
//! instants as fixed-width UTC TEXT written by [`ts`], JSON as TEXT, booleans as 0/1.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite pool and the gate its writers queue on.
#[derive(Clone)]
pub struct Lite {
    pub pool: SqlitePool,
    gate: Arc<Mutex<()>>,
}

/// A write transaction (`BEGIN IMMEDIATE`) holding the process's write gate until it ends.
pub struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    _gate: OwnedMutexGuard<()>,
}

impl WriteTx {
    pub fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

/// The transaction's connection, as a pool's transaction gives it.
impl std::ops::Deref for WriteTx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl Lite {
    /// Opens (creating it and its directory if needed) the database file of a `sqlite:` URL.
    pub async fn open(url: &str, max_connections: u32) -> Result<Lite, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(dir) = options.get_filename().parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.clamp(2, 16))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        Ok(Lite {
            pool,
            gate: Arc::new(Mutex::new(())),
        })
    }

    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        MIGRATOR.run(&self.pool).await
    }

    /// Starts a write transaction once every earlier writer of this process has finished.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let gate = self.gate.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx { tx, _gate: gate })
    }
}

/// How values are stored on this backend: one definition, shared with the projections crate.
pub use ehealth_projections::sqlite::{id, ts};

/// An instant to compare with a stored one, where instants are fixed-width text ([`ts`]) and text
/// order is time order only for the years 0000–9999 that the text can hold. An instant outside
/// them (a date with an offset across year 0 or 9999, a made-up cursor) becomes a bound below or
/// above every stored instant, which is how PostgreSQL compares it.
pub fn ts_bound(at: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Datelike;
    match at.year() {
        year if year < 0 => String::new(),
        year if year > 9999 => "~".to_string(),
        _ => ts(at),
    }
}
