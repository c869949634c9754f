//! The event store adapter: our own `PersistedEventRepository` for cqrs-es 0.5.0.
//!
//! Loads delegate to postgres-es. `persist` is ours: in one transaction it appends the events with
//! one multi-row INSERT, applies the projections, records the idempotency key and creates the job,
//! so a crash can never leave events without their projections or the reverse (DESIGN.md, write
//! path step 4). Each event is hashed into its aggregate's chain ([`hash`]) in the same
//! transaction. Only cqrs-es's event-store mode is used: its snapshot modes corrupt state.

pub mod audit;
mod context;
pub mod event_store;
pub mod feed;
pub mod group_commit;
pub mod group_read;
pub mod hash;
mod held;
mod sqlite;

pub use context::{CommandContext, CommitOutcome, NewJob, COMMAND_CONTEXT};
pub use group_commit::GroupCommit;
pub use group_read::GroupRead;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use ehealth_projections::{Fold, ProjectionError, StoredEvent, Tables};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use tokio::sync::Notify;

use crate::db::Db;

/// The database did not answer an append in time: the statement was in flight, so it may have
/// committed. The connection it ran on is closed.
#[derive(Debug, thiserror::Error)]
#[error("the database did not answer the append in time; it may have been committed")]
pub struct OutcomeUnknown;

/// The error an append gets when its deadline passes while the statement is in flight.
pub(crate) fn append_timed_out() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        OutcomeUnknown,
    ))
}

/// Whether `err` is [`append_timed_out`]'s.
pub(crate) fn is_append_timeout(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// A second command with the same Idempotency-Key committed first.
#[derive(Debug, thiserror::Error)]
#[error("a command with this idempotency key was already processed")]
pub struct DuplicateCommand;

/// The same command's job is still pending: another request for it committed first (the unique
/// index `jobs_pending_dedup_key`).
#[derive(Debug, thiserror::Error)]
#[error("a job for the same command is still pending")]
pub struct DuplicateJob;

/// The event repository of one backend: loads delegate to postgres-es on PostgreSQL and to our
/// own queries on SQLite; `persist` is ours on both.
pub enum EventRepository {
    Postgres {
        pool: sqlx::PgPool,
        loads: PostgresEventRepository,
        /// Wakes the feed subscribers after every commit, so jobs finish without waiting for a poll.
        committed: Arc<Notify>,
        /// The service's writers, shared by every repository of its command bus; without them
        /// each commit is written by its own statement.
        group: Option<Arc<GroupCommit>>,
        /// The service's readers of replays, shared like the writers; without them each replay
        /// is read by its own query on the pool.
        reads: Option<Arc<GroupRead>>,
    },
    Sqlite {
        lite: crate::db::Lite,
        committed: Arc<Notify>,
    },
}

impl EventRepository {
    /// A repository whose every commit is a statement of its own.
    pub fn new(db: Db, committed: Arc<Notify>) -> Self {
        Self::grouped(db, committed, None, None)
    }

    /// A repository whose commits on PostgreSQL go through `group` and whose replays go through
    /// `reads` (the command bus shares one of each among all its repositories, so concurrent
    /// commands are written, and their entities read, together).
    pub fn grouped(
        db: Db,
        committed: Arc<Notify>,
        group: Option<Arc<GroupCommit>>,
        reads: Option<Arc<GroupRead>>,
    ) -> Self {
        match db {
            Db::Postgres(pool) => Self::Postgres {
                loads: PostgresEventRepository::new(pool.clone()),
                pool,
                committed,
                group,
                reads,
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
            Some("jobs_pending_dedup_key") => {
                PersistenceError::UnknownError(Box::new(DuplicateJob))
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
            None if db
                .message()
                .contains("UNIQUE constraint failed: jobs.dedup_key") =>
            {
                PersistenceError::UnknownError(Box::new(DuplicateJob))
            }
            _ => PersistenceError::UnknownError(Box::new(err)),
        },
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            PersistenceError::UnknownError(Box::new(OutcomeUnknown))
        }
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

/// The newest event of an aggregate: what the next event's hash and time build on. The command's
/// loaded state carries it (see [`event_store`]), so an append need not read it back.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainHead {
    pub sequence: i64,
    pub hash: Option<Vec<u8>>,
    pub recorded_at: DateTime<Utc>,
}

/// The newest event of an aggregate, as far as this commit knows.
struct Head<'a> {
    key: (&'a str, &'a str),
    head: ChainHead,
}

/// Hashes `events` into their aggregates' chains. The previous event of an aggregate is `known`
/// when the caller has it, else read with one primary-key lookup through `conn`; if another
/// transaction appends to the same aggregate concurrently, one of the two fails on `events_pkey`
/// and retries, so every chain stays linear. `recorded_at` never goes back within an aggregate
/// (clocks of several instances may differ), so reading an entity `as_of` an instant sees a
/// prefix of its events.
async fn chain(
    mut conn: Conn<'_>,
    events: &[SerializedEvent],
    known: Option<&ChainHead>,
) -> Result<Vec<Chained>, sqlx::Error> {
    let now = hash::now_micros();
    let mut heads: Vec<Head<'_>> = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let key = (e.aggregate_type.as_str(), e.aggregate_id.as_str());
        let sequence = e.sequence as i64;
        if !heads.iter().any(|h| h.key == key) {
            let first_of_commit = heads.is_empty();
            let previous = match known {
                Some(k) if first_of_commit && k.sequence == sequence - 1 => {
                    Some((k.hash.clone(), k.recorded_at))
                }
                _ if sequence > 1 => conn.previous(key, sequence - 1).await?,
                _ => None,
            };
            let (hash, recorded_at) = previous.unwrap_or((None, now));
            heads.push(Head {
                key,
                head: ChainHead {
                    sequence: sequence - 1,
                    hash,
                    recorded_at,
                },
            });
        }
        let Some(head) = heads.iter_mut().find(|h| h.key == key) else {
            continue;
        };
        // A missing predecessor leaves the chain unlinked here; `audit verify` reports the gap.
        let prev_hash = if head.head.sequence == sequence - 1 {
            head.head.hash.clone()
        } else {
            None
        };
        let recorded_at = now.max(head.head.recorded_at);
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
        head.head = ChainHead {
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
    Pool(&'c sqlx::PgPool),
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
            Conn::Pool(pool) => {
                sqlx::query_as(SQL)
                    .bind(key.0)
                    .bind(key.1)
                    .bind(sequence)
                    .fetch_optional(*pool)
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

impl EventRepository {
    /// Appends one commit with everything that goes with it (idempotency record, job, hash chain,
    /// projections), atomically; returns the new chain head of the commit's last aggregate.
    /// `seed` is what the command already knows of the entity (its state before the commit and
    /// its chain head), so that nothing has to be read back first.
    pub(crate) async fn append(
        &self,
        events: &[SerializedEvent],
        seed: Option<Seed>,
    ) -> Result<Option<ChainHead>, PersistenceError> {
        let Some(last_event) = events.last() else {
            return Ok(None);
        };
        let context = COMMAND_CONTEXT.try_with(Arc::clone).ok();
        let last = last_event.sequence as i64;
        let (stored, committed) = match self {
            Self::Postgres {
                pool,
                committed,
                group,
                ..
            } => (
                append_postgres(
                    pool,
                    group.as_deref(),
                    context.as_deref(),
                    events,
                    last,
                    seed,
                )
                .await?,
                committed,
            ),
            Self::Sqlite { lite, committed } => {
                let known = seed.and_then(|s| s.head);
                let appended =
                    sqlite::persist(lite, context.as_deref(), events, last, known.as_ref()).await?;
                (appended, committed)
            }
        };
        if let Some(ctx) = &context {
            ctx.record_outcome(CommitOutcome {
                last_sequence: last,
                positions: stored.events.iter().map(|e| e.global_position).collect(),
            });
        }
        committed.notify_waiters();
        Ok(stored.head)
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
        self.append(events, None).await.map(drop)
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

/// Puts an entity's state before a commit into the projection fold.
pub(crate) type SeedFold = Box<dyn FnOnce(&mut Fold) -> Result<(), ProjectionError> + Send>;

/// What the command appending a commit already knows of its entity.
pub(crate) struct Seed {
    pub fold: SeedFold,
    /// The entity's newest event before the commit (`None`: unknown, read it).
    pub head: Option<ChainHead>,
}

/// A commit as stored: its events with their positions, and the chain head after it.
pub(crate) struct Appended {
    pub events: Vec<StoredEvent>,
    pub head: Option<ChainHead>,
}

/// One commit on PostgreSQL: its rows prepared here (hash chain, projections folded from the
/// state before it), written by one statement — through `group` with the commits of concurrent
/// commands when the service has one (see [`group_commit`]).
async fn append_postgres(
    pool: &sqlx::PgPool,
    group: Option<&GroupCommit>,
    context: Option<&CommandContext>,
    events: &[SerializedEvent],
    last: i64,
    seed: Option<Seed>,
) -> Result<Appended, PersistenceError> {
    // The idempotency record and the job belong to the commit's (first) aggregate.
    let first = &events[0];
    let first_key = (first.aggregate_type.as_str(), first.aggregate_id.as_str());
    let (fold_seed, known) = match seed {
        Some(seed) => (Some(seed.fold), seed.head),
        None => (None, None),
    };
    let chained = chain(Conn::Pool(pool), events, known.as_ref())
        .await
        .map_err(map_sqlx)?;
    let mut stored = stored_events(events, &chained, |_| 0);

    // The projection rows, folded from the state before the commit.
    let mut fold = Fold::over_existing();
    match fold_seed {
        Some(put) => put(&mut fold).map_err(map_projection)?,
        None => {
            let refs: Vec<_> = stored.iter().map(StoredEvent::as_ref).collect();
            let mut conn = pool.acquire().await.map_err(map_sqlx)?;
            fold.load(&mut conn, &Tables::live(), &refs)
                .await
                .map_err(map_projection)?;
        }
    }
    for event in &stored {
        fold.apply(&event.as_ref()).map_err(map_projection)?;
    }

    let mut rows = group_commit::AppendRows::default();
    if let Some(idempotency) = context.and_then(|c| c.idempotency.as_ref()) {
        rows.command(idempotency, first_key, last);
    }
    if let Some(job) = context.and_then(|c| c.job.as_ref()) {
        rows.job(job, first_key);
    }
    let head = chained.last().map(|c| ChainHead {
        sequence: last,
        hash: Some(c.hash.clone()),
        recorded_at: c.recorded_at,
    });
    for (event, c) in events.iter().zip(chained) {
        rows.event(group_commit::EventRow {
            event,
            recorded_at: c.recorded_at,
            prev_hash: c.prev_hash,
            hash: c.hash,
        });
    }
    rows.projections(fold.take_batch(true).map_err(map_projection)?);

    let positions = match group {
        Some(group) => group.append(rows).await,
        None => rows.write(pool).await,
    }
    .map_err(map_sqlx)?;
    for (aggregate_type, aggregate_id, sequence, position) in positions {
        if let Some(event) = stored.iter_mut().find(|e| {
            e.sequence == sequence
                && e.aggregate_id == aggregate_id
                && e.aggregate_type == aggregate_type
        }) {
            event.global_position = position;
        }
    }
    Ok(Appended {
        events: stored,
        head,
    })
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
