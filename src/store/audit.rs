//! `ehealth-es audit verify`: walks every aggregate's hash chain and names the events that do not
//! match; and the one-time backfill that hashes events appended before hashes existed.
//!
//! The check ([`ChainCheck`]) is one piece of code for both backends; each backend only reads its
//! events in chain order inside one snapshot ([`verify`] here, [`sqlite::verify`] on SQLite).
//!
//! The chain is per aggregate, not global: an event's `prev_hash` is the hash of the same
//! aggregate's previous event, which `persist` reads with one primary-key lookup. Appends to
//! different aggregates stay independent; a global chain would need the hash of the last event
//! of the whole log, i.e. one append at a time (the single-row counter measured at about 7x
//! fewer appends per second, cqrs-es-notes §6.1). The price: a chain cannot tell that its newest
//! events, or a whole aggregate, were deleted; compare the number of events and the chain heads
//! with a copy kept elsewhere for that.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::{Connection, PgPool};

use super::hash::{event_hash, HashedFields};

pub mod sqlite;

/// Key of the session advisory lock that keeps two instances from backfilling at once.
const BACKFILL_LOCK: i64 = 0x6568_6561_6c74_6802;
const BACKFILL_CHUNK: i64 = 5_000;

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
pub(crate) struct AuditRow {
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
pub(crate) struct ChainCheck {
    report: AuditReport,
    chain: Option<Walk>,
}

impl ChainCheck {
    pub(crate) fn push(&mut self, row: AuditRow) -> Result<(), serde_json::Error> {
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
            let payload: Value = serde_json::from_str(&row.payload)?;
            let metadata: Value = serde_json::from_str(&row.metadata)?;
            let expected = event_hash(
                row.prev_hash.as_deref(),
                &HashedFields {
                    aggregate_type: &row.aggregate_type,
                    aggregate_id: &row.aggregate_id,
                    sequence: row.sequence,
                    event_type: &row.event_type,
                    event_version: &row.event_version,
                    payload: &payload,
                    metadata: &metadata,
                    recorded_at: row.recorded_at,
                },
            );
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
    pub(crate) fn finish(mut self) -> AuditReport {
        self.report.broken.sort_by_key(|b| b.global_position);
        self.report
    }
}

type PgAuditRow = (
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

/// Walks every chain in one consistent snapshot (PostgreSQL; [`sqlite::verify`] on SQLite).
pub async fn verify(pool: &PgPool) -> Result<AuditReport, anyhow::Error> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut rows = sqlx::query_as::<_, PgAuditRow>(
        "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload::text, metadata::text, recorded_at, prev_hash, hash \
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

type BackfillRow = (
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
);

/// Hashes the events appended before migration 0005 (`hash IS NULL`), chain by chain, then
/// validates the constraint that every event has a hash. Runs with `migrate`; a no-op once done.
/// Those hashes attest the log as it was at the backfill, not as it was first written.
pub async fn backfill(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let validated: Option<bool> = sqlx::query_scalar(
        "SELECT convalidated FROM pg_constraint \
         WHERE conname = 'events_hash_present' AND conrelid = 'events'::regclass",
    )
    .fetch_optional(pool)
    .await?;
    if validated != Some(false) {
        return Ok(0);
    }
    // A detached connection: the session lock goes away with it, whatever happens.
    let mut conn = pool.acquire().await?.detach();
    // Hashing a long log takes longer than a request may: no statement or lock timeout here.
    sqlx::raw_sql("SET statement_timeout = 0; SET lock_timeout = 0")
        .execute(&mut conn)
        .await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(BACKFILL_LOCK)
        .execute(&mut conn)
        .await?;
    let mut hashed = 0u64;
    let mut after: (String, String, i64) = (String::new(), String::new(), 0);
    loop {
        let rows: Vec<BackfillRow> = sqlx::query_as(
            "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload::text, metadata::text, recorded_at FROM events \
             WHERE hash IS NULL AND (aggregate_type, aggregate_id, sequence) > ($1, $2, $3) \
             ORDER BY aggregate_type, aggregate_id, sequence LIMIT $4",
        )
        .bind(&after.0)
        .bind(&after.1)
        .bind(after.2)
        .bind(BACKFILL_CHUNK)
        .fetch_all(&mut conn)
        .await?;
        let Some(last) = rows.last() else { break };
        after = (last.0.clone(), last.1.clone(), last.2);
        let mut heads: HashMap<(String, String), (i64, Vec<u8>)> = HashMap::new();
        let (mut types, mut ids, mut seqs, mut prevs, mut hashes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut tx = conn.begin().await?;
        for (agg_type, agg_id, sequence, event_type, version, payload, metadata, at) in &rows {
            let key = (agg_type.clone(), agg_id.clone());
            let prev: Option<Vec<u8>> = match heads.get(&key) {
                Some((seq, hash)) if *seq == sequence - 1 => Some(hash.clone()),
                _ if *sequence > 1 => sqlx::query_scalar(
                    "SELECT hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
                     AND sequence = $3",
                )
                .bind(agg_type)
                .bind(agg_id)
                .bind(sequence - 1)
                .fetch_optional(&mut *tx)
                .await?
                .flatten(),
                _ => None,
            };
            let payload: Value =
                serde_json::from_str(payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let metadata: Value =
                serde_json::from_str(metadata).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let hash = event_hash(
                prev.as_deref(),
                &HashedFields {
                    aggregate_type: agg_type,
                    aggregate_id: agg_id,
                    sequence: *sequence,
                    event_type,
                    event_version: version,
                    payload: &payload,
                    metadata: &metadata,
                    recorded_at: *at,
                },
            );
            heads.insert(key, (*sequence, hash.clone()));
            types.push(agg_type.clone());
            ids.push(agg_id.clone());
            seqs.push(*sequence);
            prevs.push(prev);
            hashes.push(hash);
        }
        sqlx::query(
            "UPDATE events e SET prev_hash = u.prev_hash, hash = u.hash \
             FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::bytea[]) \
               AS u(aggregate_type, aggregate_id, sequence, prev_hash, hash) \
             WHERE e.aggregate_type = u.aggregate_type AND e.aggregate_id = u.aggregate_id \
               AND e.sequence = u.sequence AND e.hash IS NULL",
        )
        .bind(&types)
        .bind(&ids)
        .bind(&seqs)
        .bind(&prevs)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        hashed += rows.len() as u64;
    }
    sqlx::query("ALTER TABLE events VALIDATE CONSTRAINT events_hash_present")
        .execute(&mut conn)
        .await?;
    if hashed > 0 {
        tracing::info!(
            hashed,
            "hashed the events appended before hash chains existed"
        );
    }
    Ok(hashed)
}
