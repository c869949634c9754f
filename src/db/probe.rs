//! What `/health/ready` and `/metrics` read of the database, on the connection kept for them
//! ([`super::Db::for_health`]): a trivial read, a tiny committed write (PostgreSQL), how far the
//! effects worker lags, and how many jobs wait.

use super::Db;
use crate::store::feed;
use crate::workers::effects::SUBSCRIBER;

/// The readiness probe's row: one for every instance (they take turns on it).
const WRITE_PROBE: &str = "INSERT INTO readiness_probe (id, probed_at) VALUES (1, now()) \
    ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at";
const PENDING_JOBS: &str = "SELECT count(*) FROM jobs WHERE status = 'pending'";

impl Db {
    /// How many events the effects worker has not processed yet.
    pub async fn feed_lag(&self) -> Result<i64, sqlx::Error> {
        match self {
            Db::Postgres(pool) => feed::lag(&mut *pool.acquire().await?, SUBSCRIBER).await,
            Db::Sqlite(lite) => {
                feed::sqlite::lag(&mut *lite.pool.acquire().await?, SUBSCRIBER).await
            }
        }
    }

    /// How many jobs wait for their processing.
    pub async fn pending_jobs(&self) -> Result<i64, sqlx::Error> {
        match self {
            Db::Postgres(pool) => sqlx::query_scalar(PENDING_JOBS).fetch_one(pool).await,
            Db::Sqlite(lite) => sqlx::query_scalar(PENDING_JOBS).fetch_one(&lite.pool).await,
        }
    }

    /// A committed write of one row, on PostgreSQL: it fails on a read-only database (a standby
    /// after a failover), a WAL that cannot be written, too many connections. On SQLite there is
    /// no probe write: it would queue behind the one writer, and the writes themselves say when
    /// the file cannot take them.
    pub async fn probe_write(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Postgres(pool) => sqlx::query(WRITE_PROBE).execute(pool).await.map(drop),
            Db::Sqlite(_) => Ok(()),
        }
    }
}
