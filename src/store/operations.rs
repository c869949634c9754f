//! The operations commands' work on a database (`projections rebuild|verify`, `audit verify`):
//! long reads of the whole log, run on a connection without the request deadline
//! (`Db::for_operations`). The service may keep running meanwhile.

use async_trait::async_trait;
use ehealth_projections::rebuild::RebuildReport;
use ehealth_projections::verify::VerifyReport;

use super::audit::AuditReport;

#[async_trait]
pub trait Operations: Send + Sync {
    /// Rebuilds every projection from the event log.
    async fn rebuild_projections(&self) -> anyhow::Result<RebuildReport>;

    /// Rebuilds aside and compares with the live tables.
    async fn verify_projections(&self) -> anyhow::Result<VerifyReport>;

    /// Walks every aggregate's hash chain.
    async fn verify_audit(&self) -> anyhow::Result<AuditReport>;
}
