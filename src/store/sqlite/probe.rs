use async_trait::async_trait;

use crate::db::Lite;
use crate::store::jobs::PENDING;
use crate::store::probe::Probe;
use crate::workers::effects::SUBSCRIBER;

pub(crate) struct SqliteProbe(pub Lite);

#[async_trait]
impl Probe for SqliteProbe {
    async fn probe_write(&self) -> Result<(), sqlx::Error> {
        Ok(())
    }

    async fn feed_lag(&self) -> Result<i64, sqlx::Error> {
        super::feed::lag(&mut *self.0.pool.acquire().await?, SUBSCRIBER).await
    }

    async fn pending_jobs(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(PENDING).fetch_one(&self.0.pool).await
    }
}
