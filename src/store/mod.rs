//! The event store adapter: our own `PersistedEventRepository` for cqrs-es 0.5.0.
//!
//! Loads delegate to postgres-es. `persist` is ours: in one transaction it appends the events with
//! one multi-row INSERT, applies the projections, records the idempotency key and creates the job,
//! so a crash can never leave events without their projections or the reverse (DESIGN.md, write
//! path step 4). Each event is hashed into its aggregate's chain ([`hash`]) in the same
//! transaction. Only cqrs-es's event-store mode is used: its snapshot modes corrupt state.

pub mod audit;
mod context;
pub mod feed;
pub mod hash;
mod sqlite;

pub use context::{CommandContext, CommitOutcome, NewJob, COMMAND_CONTEXT};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use ehealth_projections::StoredEvent;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use tokio::sync::Notify;

use crate::db::Db;

/// A second command with the same Idempotency-Key committed first.
#[derive(Debug, thiserror::Error)]
#[error("a command with this idempotency key was already processed")]
pub struct DuplicateCommand;

/// The event repository of one backend: loads delegate to postgres-es on PostgreSQL and to our
/// own queries on SQLite; `persist` is ours on both.
pub enum EventRepository {
    Postgres {
        pool: sqlx::PgPool,
        loads: PostgresEventRepository,
        /// Wakes the feed subscribers after every commit, so jobs finish without waiting for a poll.
        committed: Arc<Notify>,
    },
    Sqlite {
        lite: crate::db::Lite,
        committed: Arc<Notify>,
    },
}

impl EventRepository {
    pub fn new(db: Db, committed: Arc<Notify>) -> Self {
        match db {
            Db::Postgres(pool) => Self::Postgres {
                loads: PostgresEventRepository::new(pool.clone()),
                pool,
                committed,
            },
            Db::Sqlite(lite) => Self::Sqlite { lite, committed },
        }
    }
}

fn map_sqlx(err: sqlx::Error) -> PersistenceError {
    match &err {
        sqlx::Error::Database(db) => match db.constraint() {
            Some("events_pkey") => PersistenceError::OptimisticLockError,
            Some("processed_commands_pkey") => {
                PersistenceError::UnknownError(Box::new(DuplicateCommand))
            }
            // SQLite names no constraint: its message names the table's columns.
            None if db.message().contains("UNIQUE constraint failed: events.") => {
                PersistenceError::OptimisticLockError
            }
            None if db
                .message()
                .contains("constraint failed: processed_commands.") =>
            {
                PersistenceError::UnknownError(Box::new(DuplicateCommand))
            }
            _ => PersistenceError::UnknownError(Box::new(err)),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_) => PersistenceError::ConnectionError(Box::new(err)),
        _ => PersistenceError::UnknownError(Box::new(err)),
    }
}

/// The chain fields of one event about to be appended.
struct Chained {
    recorded_at: DateTime<Utc>,
    prev_hash: Option<Vec<u8>>,
    hash: Vec<u8>,
}

/// The newest event of an aggregate, as far as this commit knows.
struct Head<'a> {
    key: (&'a str, &'a str),
    sequence: i64,
    hash: Option<Vec<u8>>,
    recorded_at: DateTime<Utc>,
}

/// Hashes `events` into their aggregates' chains. The previous event of an aggregate is read with
/// one primary-key lookup; if another transaction appends to the same aggregate concurrently, one
/// of the two fails on `events_pkey` and retries, so every chain stays linear. `recorded_at` never
/// goes back within an aggregate (clocks of several instances may differ), so reading an entity
/// `as_of` an instant sees a prefix of its events.
async fn chain(
    mut conn: Conn<'_>,
    events: &[SerializedEvent],
) -> Result<Vec<Chained>, sqlx::Error> {
    let now = hash::now_micros();
    let mut heads: Vec<Head<'_>> = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let key = (e.aggregate_type.as_str(), e.aggregate_id.as_str());
        let sequence = e.sequence as i64;
        if !heads.iter().any(|h| h.key == key) {
            let previous = if sequence > 1 {
                conn.previous(key, sequence - 1).await?
            } else {
                None
            };
            let (hash, recorded_at) = previous.unwrap_or((None, now));
            heads.push(Head {
                key,
                sequence: sequence - 1,
                hash,
                recorded_at,
            });
        }
        let Some(head) = heads.iter_mut().find(|h| h.key == key) else {
            continue;
        };
        // A missing predecessor leaves the chain unlinked here; `audit verify` reports the gap.
        let prev_hash = if head.sequence == sequence - 1 {
            head.hash.clone()
        } else {
            None
        };
        let recorded_at = now.max(head.recorded_at);
        let hash = hash::event_hash(
            prev_hash.as_deref(),
            &hash::HashedFields {
                aggregate_type: key.0,
                aggregate_id: key.1,
                sequence,
                event_type: &e.event_type,
                event_version: &e.event_version,
                payload: &e.payload,
                metadata: &e.metadata,
                recorded_at,
            },
        );
        *head = Head {
            key,
            sequence,
            hash: Some(hash.clone()),
            recorded_at,
        };
        out.push(Chained {
            recorded_at,
            prev_hash,
            hash,
        });
    }
    Ok(out)
}

/// The connection of the append transaction, on either backend.
pub(crate) enum Conn<'c> {
    Postgres(&'c mut sqlx::PgConnection),
    Sqlite(&'c mut sqlx::SqliteConnection),
}

impl Conn<'_> {
    /// The hash and time of an aggregate's event `sequence`.
    async fn previous(
        &mut self,
        key: (&str, &str),
        sequence: i64,
    ) -> Result<Option<(Option<Vec<u8>>, DateTime<Utc>)>, sqlx::Error> {
        const SQL: &str = "SELECT hash, recorded_at FROM events \
                           WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3";
        match self {
            Conn::Postgres(conn) => {
                sqlx::query_as(SQL)
                    .bind(key.0)
                    .bind(key.1)
                    .bind(sequence)
                    .fetch_optional(&mut **conn)
                    .await
            }
            Conn::Sqlite(conn) => {
                sqlx::query_as(SQL)
                    .bind(key.0)
                    .bind(key.1)
                    .bind(sequence)
                    .fetch_optional(&mut **conn)
                    .await
            }
        }
    }
}

fn map_projection(err: ehealth_projections::ProjectionError) -> PersistenceError {
    match err {
        ehealth_projections::ProjectionError::Database(db) => map_sqlx(db),
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

impl PersistedEventRepository for EventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            Self::Postgres { loads, .. } => loads.get_events::<A>(aggregate_id).await,
            Self::Sqlite { lite, .. } => sqlite::events(lite, A::TYPE, aggregate_id, 0)
                .await
                .map_err(map_sqlx),
        }
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        match self {
            Self::Postgres { loads, .. } => {
                loads
                    .get_last_events::<A>(aggregate_id, last_sequence)
                    .await
            }
            Self::Sqlite { lite, .. } => {
                sqlite::events(lite, A::TYPE, aggregate_id, last_sequence as i64)
                    .await
                    .map_err(map_sqlx)
            }
        }
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        // Event-store mode only: there are never snapshots.
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        _snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        if events.is_empty() {
            return Ok(());
        }
        let context = COMMAND_CONTEXT.try_with(Arc::clone).ok();
        let last = events.last().map(|e| e.sequence as i64).unwrap_or_default();
        let (stored, committed) = match self {
            Self::Postgres {
                pool, committed, ..
            } => (
                persist_postgres(pool, context.as_deref(), events, last).await?,
                committed,
            ),
            Self::Sqlite { lite, committed } => (
                sqlite::persist(lite, context.as_deref(), events, last).await?,
                committed,
            ),
        };
        if let Some(ctx) = &context {
            ctx.record_outcome(CommitOutcome {
                last_sequence: last,
                positions: stored.iter().map(|e| e.global_position).collect(),
            });
        }
        committed.notify_waiters();
        Ok(())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        match self {
            Self::Postgres { loads, .. } => loads.stream_events::<A>(aggregate_id).await,
            Self::Sqlite { lite, .. } => {
                let events = sqlite::events(lite, A::TYPE, aggregate_id, 0)
                    .await
                    .map_err(map_sqlx)?;
                Ok(sqlite::replay(events).await)
            }
        }
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        match self {
            Self::Postgres { loads, .. } => loads.stream_all_events::<A>().await,
            Self::Sqlite { lite, .. } => {
                let events = sqlite::all_events(lite, A::TYPE).await.map_err(map_sqlx)?;
                Ok(sqlite::replay(events).await)
            }
        }
    }
}

/// One append transaction on PostgreSQL: idempotency record and job, the events (one multi-row
/// INSERT), their hash chain and the projections; returns the stored events with their positions.
async fn persist_postgres(
    pool: &sqlx::PgPool,
    context: Option<&CommandContext>,
    events: &[SerializedEvent],
    last: i64,
) -> Result<Vec<StoredEvent>, PersistenceError> {
    let mut tx = pool.begin().await.map_err(map_sqlx)?;
    // The idempotency record goes first: a concurrent request with the same key then waits on
    // this key (not on the events' primary key) and is answered as a retry, instead of being
    // retried as a conflict against the state this command has already changed.
    if let Some(ctx) = context {
        ctx.write(&mut tx, &events[0], last)
            .await
            .map_err(map_sqlx)?;
    }

    let chained = chain(Conn::Postgres(&mut tx), events)
        .await
        .map_err(map_sqlx)?;
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, recorded_at, prev_hash, hash) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], \
         $6::jsonb[], $7::jsonb[], $8::timestamptz[], $9::bytea[], $10::bytea[]) \
         RETURNING aggregate_type, aggregate_id, sequence, global_position",
    )
    .bind(
        events
            .iter()
            .map(|e| e.aggregate_type.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.aggregate_id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|e| e.sequence as i64).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|e| e.event_type.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        events
            .iter()
            .map(|e| e.event_version.clone())
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|e| e.payload.clone()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|e| e.metadata.clone())
            .collect::<Vec<_>>(),
    )
    .bind(chained.iter().map(|c| c.recorded_at).collect::<Vec<_>>())
    .bind(
        chained
            .iter()
            .map(|c| c.prev_hash.clone())
            .collect::<Vec<_>>(),
    )
    .bind(chained.iter().map(|c| c.hash.clone()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await
    .map_err(map_sqlx)?;

    let stored = stored_events(events, &chained, |e| {
        rows.iter()
            .find(|(t, i, seq, _)| {
                *seq == e.sequence as i64 && *t == e.aggregate_type && *i == e.aggregate_id
            })
            .map_or(0, |row| row.3)
    });
    ehealth_projections::project(&mut tx, &stored)
        .await
        .map_err(map_projection)?;

    tx.commit().await.map_err(map_sqlx)?;
    Ok(stored)
}

/// The events as the projections see them, with their positions and chain times.
fn stored_events(
    events: &[SerializedEvent],
    chained: &[Chained],
    mut position: impl FnMut(&SerializedEvent) -> i64,
) -> Vec<StoredEvent> {
    events
        .iter()
        .zip(chained)
        .map(|(e, c)| StoredEvent {
            global_position: position(e),
            aggregate_type: e.aggregate_type.clone(),
            aggregate_id: e.aggregate_id.clone(),
            sequence: e.sequence as i64,
            event_type: e.event_type.clone(),
            payload: e.payload.clone(),
            metadata: e.metadata.clone(),
            recorded_at: c.recorded_at,
        })
        .collect()
}
