//! `ehealth-es audit verify` on the embedded SQLite backend: every event read in chain order in
//! one read transaction (a WAL snapshot, so appends go on and are not seen) and checked by the
//! same [`ChainCheck`] as on PostgreSQL. Payload and metadata are stored as JSON text, hashes as
//! BLOBs, `recorded_at` as fixed-width UTC text; the canonical form hashes values, not spelling,
//! so the hashes computed at append time are recomputed exactly.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::{Connection, SqlitePool};

use super::{AuditReport, AuditRow, ChainCheck};

type SqliteAuditRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

/// Walks every chain in one snapshot.
pub async fn verify(pool: &SqlitePool) -> Result<AuditReport, anyhow::Error> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    let mut rows = sqlx::query_as::<_, SqliteAuditRow>(
        "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata, recorded_at, prev_hash, hash \
         FROM events ORDER BY aggregate_type, aggregate_id, sequence",
    )
    .fetch(&mut *tx);
    let mut check = ChainCheck::default();
    while let Some(row) = rows.try_next().await? {
        check.push(AuditRow {
            global_position: row.0,
            aggregate_type: row.1,
            aggregate_id: row.2,
            sequence: row.3,
            event_type: row.4,
            event_version: row.5,
            payload: row.6,
            metadata: row.7,
            recorded_at: row.8,
            prev_hash: row.9,
            hash: row.10,
        })?;
    }
    drop(rows);
    tx.rollback().await?;
    Ok(check.finish())
}
