use async_trait::async_trait;
use ehealth_projections::rebuild::RebuildReport;
use ehealth_projections::verify::VerifyReport;
use sqlx::PgPool;

use crate::store::audit::{Audit, AuditReport, PgAudit};
use crate::store::operations::Operations;

pub(crate) struct PgOperations(pub PgPool);

#[async_trait]
impl Operations for PgOperations {
    /// Aside from the event log, then swapped in; appends are held only for the swap.
    async fn rebuild_projections(&self) -> anyhow::Result<RebuildReport> {
        Ok(ehealth_projections::rebuild::rebuild(&self.0, Default::default()).await?)
    }

    async fn verify_projections(&self) -> anyhow::Result<VerifyReport> {
        Ok(ehealth_projections::verify::verify(&self.0, Default::default()).await?)
    }

    async fn verify_audit(&self) -> anyhow::Result<AuditReport> {
        PgAudit(self.0.clone()).verify().await
    }
}
