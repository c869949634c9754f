//! What `/health/ready` and `/metrics` read of the database, on the connections kept for them
//! (`Db::for_health`): a committed write where the backend can take one without queueing, how
//! far the effects worker lags, and how many jobs wait.

use async_trait::async_trait;

#[async_trait]
pub trait Probe: Send + Sync {
    /// A committed write of one row: it fails on a read-only database (a standby after a
    /// failover), a WAL that cannot be written, too many connections. On SQLite there is no probe
    /// write: it would queue behind the one writer, and the writes themselves say when the file
    /// cannot take them.
    async fn probe_write(&self) -> Result<(), sqlx::Error>;

    /// How many events the effects worker has not processed yet.
    async fn feed_lag(&self) -> Result<i64, sqlx::Error>;

    /// How many jobs wait for their processing.
    async fn pending_jobs(&self) -> Result<i64, sqlx::Error>;
}
