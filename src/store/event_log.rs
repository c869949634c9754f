//! The event log: what the write side reads (an entity's events, replayed into its state) and
//! appends (a command's events, in one transaction with its idempotency record, its job, their
//! hash chain and the projections), and the errors an append can end in.
//!
//! Backends: [`super::postgres::event_log`] (appends grouped into one statement per group of
//! concurrent commits, replays grouped into one read) and [`super::sqlite::event_log`] (one write
//! transaction at a time). The reads of the log for auditors (history, a state as of a past point)
//! are [`super::history`]; the ordered feed the workers follow is [`super::feed`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use ehealth_projections::{Fold, ProjectionError, StoredEvent};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

use super::CommandContext;

/// The event log of one database.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// An entity's events in order, and its chain head where the backend reads it along.
    async fn load(
        &self,
        aggregate_type: &'static str,
        aggregate_id: &str,
    ) -> Result<Replayed, sqlx::Error>;

    /// An entity's events after `after_sequence`, in order.
    async fn events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: i64,
    ) -> Result<Vec<SerializedEvent>, sqlx::Error>;

    /// Every event of an aggregate type, in log order.
    async fn all_events(&self, aggregate_type: &str) -> Result<Vec<SerializedEvent>, sqlx::Error>;

    /// Appends one commit with everything that goes with it (the idempotency record and the job
    /// of `context`, the hash chain, the projections), atomically. `seed` is what the command
    /// already knows of the entity (its state before the commit and its chain head), so that
    /// nothing has to be read back first.
    async fn append(
        &self,
        context: Option<&CommandContext>,
        events: &[SerializedEvent],
        seed: Option<Seed>,
    ) -> Result<Appended, PersistenceError>;
}

/// An entity's events as replayed.
pub struct Replayed {
    pub events: Vec<SerializedEvent>,
    /// The newest event's chain fields; `None` when the backend did not read them (SQLite: the
    /// append then reads its predecessor).
    pub head: Option<ChainHead>,
}

/// The newest event of an aggregate: what the next event's hash and time build on. The command's
/// loaded state carries it (see [`super::event_store`]), so an append need not read it back.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainHead {
    pub sequence: i64,
    pub hash: Option<Vec<u8>>,
    pub recorded_at: DateTime<Utc>,
}

/// Puts an entity's state before a commit into the projection fold.
pub(crate) type SeedFold = Box<dyn FnOnce(&mut Fold) -> Result<(), ProjectionError> + Send>;

/// What the command appending a commit already knows of its entity.
pub struct Seed {
    pub(crate) fold: SeedFold,
    /// The entity's newest event before the commit (`None`: unknown, read it).
    pub(crate) head: Option<ChainHead>,
}

/// A commit as stored: its events with their positions, and the chain head after it.
pub struct Appended {
    pub events: Vec<StoredEvent>,
    pub head: Option<ChainHead>,
}

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

/// What an append's database error means to cqrs-es: a conflict on the events' primary key is
/// an optimistic-lock conflict (the command is retried), a used Idempotency-Key or a pending job
/// of the same command is a duplicate, a lost connection is one.
pub(crate) fn map_sqlx(err: sqlx::Error) -> PersistenceError {
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

pub(crate) fn map_projection(err: ProjectionError) -> PersistenceError {
    match err {
        ProjectionError::Database(db) => map_sqlx(db),
        other => PersistenceError::UnknownError(Box::new(other)),
    }
}

/// An entity's events after a sequence (`$3`), in order: the same text on both backends.
pub(super) const EVENTS_AFTER: &str = "SELECT aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload, metadata FROM events \
     WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence";

/// Every event of an aggregate type, in log order.
pub(super) const ALL_EVENTS: &str = "SELECT aggregate_type, aggregate_id, sequence, event_type, \
     event_version, payload, metadata FROM events WHERE aggregate_type = $1 \
     ORDER BY global_position";

/// The hash and time of one event of an aggregate (the predecessor a chain links to).
pub(super) const PREVIOUS: &str = "SELECT hash, recorded_at FROM events \
     WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence = $3";

/// One row of [`EVENTS_AFTER`] or [`ALL_EVENTS`] (JSON decodes from `jsonb` and from text alike).
pub(super) type EventRow = (
    String,
    String,
    i64,
    String,
    String,
    Json<Value>,
    Json<Value>,
);

/// An entity's events after `after_sequence` ([`EVENTS_AFTER`]), on either backend.
pub(super) async fn events_after<DB: Database>(
    pool: &Pool<DB>,
    aggregate_type: &str,
    aggregate_id: &str,
    after_sequence: i64,
) -> Result<Vec<SerializedEvent>, sqlx::Error>
where
    EventRow: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let rows: Vec<EventRow> = sqlx::query_as(EVENTS_AFTER)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .bind(after_sequence)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(serialized).collect())
}

/// Every event of `aggregate_type` ([`ALL_EVENTS`]), on either backend.
pub(super) async fn all_events<DB: Database>(
    pool: &Pool<DB>,
    aggregate_type: &str,
) -> Result<Vec<SerializedEvent>, sqlx::Error>
where
    EventRow: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let rows: Vec<EventRow> = sqlx::query_as(ALL_EVENTS)
        .bind(aggregate_type)
        .fetch_all(pool)
        .await?;
    Ok(rows.into_iter().map(serialized).collect())
}

fn serialized(row: EventRow) -> SerializedEvent {
    let (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) =
        row;
    SerializedEvent::new(
        aggregate_id,
        sequence as usize,
        aggregate_type,
        event_type,
        event_version,
        payload.0,
        metadata.0,
    )
}
