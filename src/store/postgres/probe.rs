use async_trait::async_trait;
use sqlx::PgPool;

use crate::store::jobs::PENDING;
use crate::store::probe::Probe;
use crate::workers::effects::SUBSCRIBER;

/// The readiness probe's row: one for every instance (they take turns on it).
const WRITE_PROBE: &str = "INSERT INTO readiness_probe (id, probed_at) VALUES (1, now()) \
    ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at";

pub(crate) struct PgProbe(pub PgPool);

#[async_trait]
impl Probe for PgProbe {
    async fn probe_write(&self) -> Result<(), sqlx::Error> {
        sqlx::query(WRITE_PROBE).execute(&self.0).await.map(drop)
    }

    async fn feed_lag(&self) -> Result<i64, sqlx::Error> {
        super::feed::lag(&mut *self.0.acquire().await?, SUBSCRIBER).await
    }

    async fn pending_jobs(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(PENDING).fetch_one(&self.0).await
    }
}
