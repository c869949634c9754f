//! Audit: `ehealth-es audit verify`, which walks every aggregate's hash chain and names the
//! events that do not match, and the Event Manager's records (`status_change_events`: one per
//! change of an entity's status), read by the legal entities that may see their entity.
//!
//! The chain check ([`ChainCheck`]) is one piece of code for both backends; each backend only
//! says how its read transaction becomes one snapshot (`audit!`). The Event Manager's records
//! are read the same way on both ([`super::status_changes`]).
//!
//! The chain is per aggregate, not global: an event's `prev_hash` is the hash of the same
//! aggregate's previous event, which the append reads with one primary-key lookup. Appends to
//! different aggregates stay independent; a global chain would need the hash of the last event
//! of the whole log, i.e. one append at a time (a single-row counter measured at about 7x fewer
//! appends per second). The price: a chain cannot tell that its newest events, or a whole
//! aggregate, were deleted; compare the number of events and the chain heads with a copy kept
//! elsewhere for that.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use serde_json::Value;
use sqlx::{Connection, PgPool, Postgres, Sqlite};
use uuid::Uuid;

use super::hash::{event_hash, HashedFields};
use super::status_changes::{status_change_query, status_changes_query};
use super::{StatusChange, StatusChangeFilter};
use crate::db::{Lite, Pooled};

#[async_trait]
pub trait Audit: Send + Sync {
    /// Walks every chain in one consistent snapshot.
    async fn verify(&self) -> Result<AuditReport, anyhow::Error>;

    /// One page (`limit`, `offset`) of the records visible to `legal_entity` that `filter`
    /// accepts, oldest first (`event_time`, then the position in the log), and how many there are
    /// in all — both read in one statement, so they describe the same snapshot.
    async fn status_changes(
        &self,
        filter: &StatusChangeFilter,
        legal_entity: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<StatusChange>), sqlx::Error>;

    /// One record, if it is visible to `legal_entity`.
    async fn status_change(
        &self,
        id: Uuid,
        legal_entity: Uuid,
    ) -> Result<Option<StatusChange>, sqlx::Error>;
}

/// The [`Audit`] of a backend: `$name` over its handle `$handle`, whose SQL dialect is `$db`.
/// The chain walk and the Event Manager's reads are the same on both backends: a backend only
/// says how its read transaction becomes one snapshot (`snapshot`: PostgreSQL needs repeatable
/// read; a SQLite read transaction is one, in WAL mode) and how it reads JSON as text
/// (`json_text`, see [`chain_columns`]).
macro_rules! audit {
    ($name:ident($handle:ty), $db:ty, snapshot: $snapshot:expr, json_text: $json_text:expr) => {
        pub(crate) struct $name(pub $handle);

        #[async_trait]
        impl Audit for $name {
            async fn verify(&self) -> Result<AuditReport, anyhow::Error> {
                let mut conn = Pooled::pool(&self.0).acquire().await?;
                let mut tx = conn.begin().await?;
                if let Some(snapshot) = $snapshot {
                    sqlx::query(snapshot).execute(&mut *tx).await?;
                }
                let sql = chain_query($json_text);
                let rows = sqlx::query_as::<_, ChainRow>(&sql).fetch(&mut *tx);
                let report = ChainCheck::all(rows).await;
                tx.rollback().await?;
                report
            }

            async fn status_changes(
                &self,
                filter: &StatusChangeFilter,
                legal_entity: Uuid,
                limit: i64,
                offset: i64,
            ) -> Result<(i64, Vec<StatusChange>), sqlx::Error> {
                let mut sql = status_changes_query::<$db>(filter, legal_entity, (limit, offset));
                let rows = sql.build().fetch_all(Pooled::pool(&self.0)).await?;
                Ok(StatusChange::page(&rows))
            }

            async fn status_change(
                &self,
                id: Uuid,
                legal_entity: Uuid,
            ) -> Result<Option<StatusChange>, sqlx::Error> {
                let mut sql = status_change_query::<$db>(id, legal_entity);
                let row = sql.build().fetch_optional(Pooled::pool(&self.0)).await?;
                Ok(row.as_ref().and_then(StatusChange::read))
            }
        }
    };
}

audit!(
    PgAudit(PgPool),
    Postgres,
    snapshot: Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
    json_text: "::text"
);
audit!(SqliteAudit(Lite), Sqlite, snapshot: None::<&str>, json_text: "");

/// What is wrong with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The hash recomputed from the stored row differs from the stored hash: the row was changed.
    Hash {
        expected: Vec<u8>,
        stored: Option<Vec<u8>>,
    },
    /// The stored `prev_hash` is not the previous event's stored hash: the chain was relinked, or
    /// the previous event was rewritten together with its hash.
    PrevHash {
        expected: Option<Vec<u8>>,
        stored: Option<Vec<u8>>,
    },
    /// The aggregate's sequence skips: an event before this one is missing.
    Gap { expected_sequence: i64 },
}

/// The first event of one chain that does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub global_position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub problem: Problem,
}

fn hex_or_null(bytes: &Option<Vec<u8>>) -> String {
    bytes.as_ref().map_or_else(|| "null".into(), hex::encode)
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "event global_position={} {}/{} sequence={}: ",
            self.global_position, self.aggregate_type, self.aggregate_id, self.sequence
        )?;
        match &self.problem {
            Problem::Hash { expected, stored } => write!(
                f,
                "content does not match its hash: expected hash {} stored hash {}",
                hex::encode(expected),
                hex_or_null(stored)
            ),
            Problem::PrevHash { expected, stored } => write!(
                f,
                "prev_hash is not the previous event's hash: expected {} stored {}",
                hex_or_null(expected),
                hex_or_null(stored)
            ),
            Problem::Gap { expected_sequence } => {
                write!(f, "sequence {expected_sequence} is missing before it")
            }
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AuditReport {
    pub events: u64,
    pub chains: u64,
    /// The first mismatch of every broken chain, earliest (by global position) first.
    pub broken: Vec<Broken>,
}

/// The chain being walked.
struct Walk {
    aggregate_type: String,
    aggregate_id: String,
    last_sequence: i64,
    /// The stored hash of the chain's last event.
    last_hash: Option<Vec<u8>>,
    /// A mismatch was reported already: one per chain.
    broken: bool,
}

/// One stored event as either backend gives it back: the hashed fields (payload and metadata
/// as JSON text) and the two hash columns.
pub(super) struct AuditRow {
    pub global_position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Option<Vec<u8>>,
}

/// The chain check itself, the same on both backends: fed every event in `(aggregate_type,
/// aggregate_id, sequence)` order, it keeps the first mismatch of every chain.
#[derive(Default)]
pub(super) struct ChainCheck {
    report: AuditReport,
    chain: Option<Walk>,
}

/// The columns of a [`ChainRow`]; `json` is how the backend reads a JSON column as text
/// (`::text` on PostgreSQL's `jsonb`, nothing on SQLite, which stores text).
pub(super) fn chain_columns(json: &str) -> String {
    format!(
        "global_position, aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload{json}, metadata{json}, recorded_at, prev_hash, hash"
    )
}

/// Every event in chain order, for the check.
pub(super) fn chain_query(json: &str) -> String {
    format!(
        "SELECT {} FROM events ORDER BY aggregate_type, aggregate_id, sequence",
        chain_columns(json)
    )
}

impl AuditRow {
    /// The hash of this event chained after `prev_hash`, from its stored fields: what the append
    /// computed, unless the row was changed since.
    pub(super) fn hash_after(
        &self,
        prev_hash: Option<&[u8]>,
    ) -> Result<Vec<u8>, serde_json::Error> {
        let payload: Value = serde_json::from_str(&self.payload)?;
        let metadata: Value = serde_json::from_str(&self.metadata)?;
        Ok(event_hash(
            prev_hash,
            &HashedFields {
                aggregate_type: &self.aggregate_type,
                aggregate_id: &self.aggregate_id,
                sequence: self.sequence,
                event_type: &self.event_type,
                event_version: &self.event_version,
                payload: &payload,
                metadata: &metadata,
                recorded_at: self.recorded_at,
            },
        ))
    }
}

impl ChainCheck {
    /// Checks the rows of [`chain_query`], in their order.
    pub(super) async fn all(
        mut rows: impl Stream<Item = Result<ChainRow, sqlx::Error>> + Unpin,
    ) -> Result<AuditReport, anyhow::Error> {
        let mut check = ChainCheck::default();
        while let Some(row) = rows.try_next().await? {
            check.push(row.into())?;
        }
        Ok(check.finish())
    }

    pub(super) fn push(&mut self, row: AuditRow) -> Result<(), serde_json::Error> {
        let report = &mut self.report;
        report.events += 1;
        let walk = match self.chain.as_mut() {
            Some(w)
                if w.aggregate_type == row.aggregate_type && w.aggregate_id == row.aggregate_id =>
            {
                w
            }
            _ => {
                report.chains += 1;
                self.chain.insert(Walk {
                    aggregate_type: row.aggregate_type.clone(),
                    aggregate_id: row.aggregate_id.clone(),
                    last_sequence: 0,
                    last_hash: None,
                    broken: false,
                })
            }
        };
        let problem = if walk.broken {
            None
        } else if row.sequence != walk.last_sequence + 1 {
            Some(Problem::Gap {
                expected_sequence: walk.last_sequence + 1,
            })
        } else if row.prev_hash != walk.last_hash {
            Some(Problem::PrevHash {
                expected: walk.last_hash.clone(),
                stored: row.prev_hash.clone(),
            })
        } else {
            let expected = row.hash_after(row.prev_hash.as_deref())?;
            (row.hash.as_deref() != Some(expected.as_slice())).then(|| Problem::Hash {
                expected,
                stored: row.hash.clone(),
            })
        };
        walk.last_sequence = row.sequence;
        walk.last_hash = row.hash;
        if let Some(problem) = problem {
            walk.broken = true;
            report.broken.push(Broken {
                global_position: row.global_position,
                aggregate_type: row.aggregate_type,
                aggregate_id: row.aggregate_id,
                sequence: row.sequence,
                problem,
            });
        }
        Ok(())
    }

    /// The report, broken chains earliest first.
    pub(super) fn finish(mut self) -> AuditReport {
        self.report.broken.sort_by_key(|b| b.global_position);
        self.report
    }
}

/// An event as both backends read it for the check: `(global_position, aggregate_type,
/// aggregate_id, sequence, event_type, event_version, payload, metadata, recorded_at, prev_hash,
/// hash)`, payload and metadata as JSON text.
pub(super) type ChainRow = (
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

impl From<ChainRow> for AuditRow {
    fn from(row: ChainRow) -> AuditRow {
        AuditRow {
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
        }
    }
}
