use async_trait::async_trait;
use ehealth_projections::rebuild::RebuildReport;
use ehealth_projections::verify::VerifyReport;

use crate::db::Lite;
use crate::store::audit::{Audit, AuditReport, SqliteAudit};
use crate::store::operations::Operations;

pub(crate) struct SqliteOperations(pub Lite);

#[async_trait]
impl Operations for SqliteOperations {
    /// One write transaction (`BEGIN IMMEDIATE`, behind this process's write gate; a service on
    /// the same file waits in its own `BEGIN IMMEDIATE`), in which the tables are emptied and the
    /// whole log folded again. Appends are held for all of it.
    async fn rebuild_projections(&self) -> anyhow::Result<RebuildReport> {
        let started = std::time::Instant::now();
        let mut tx = self.0.begin_write().await?;
        let held = std::time::Instant::now();
        let events = ehealth_projections::sqlite::rebuild::rebuild(tx.conn()).await?;
        tx.commit().await?;
        Ok(RebuildReport {
            events,
            elapsed: started.elapsed(),
            locked: held.elapsed(),
            attempts: 1,
        })
    }

    async fn verify_projections(&self) -> anyhow::Result<VerifyReport> {
        let mut conn = self.0.pool.acquire().await?;
        Ok(ehealth_projections::sqlite::verify::verify(&mut conn).await?)
    }

    async fn verify_audit(&self) -> anyhow::Result<AuditReport> {
        SqliteAudit(self.0.clone()).verify().await
    }
}
