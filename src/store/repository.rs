//! Our `PersistedEventRepository` for cqrs-es 0.5.0 over an [`EventLog`]. Only cqrs-es's
//! event-store mode is used: its snapshot modes corrupt state, so there are never snapshots.
//!
//! `persist` appends the events with everything that goes with them in one transaction (the
//! idempotency record and the job the command carries in [`COMMAND_CONTEXT`], the hash chain, the
//! projections), so a crash can never leave events without their projections or the reverse. The
//! commit's outcome (its sequence and positions) goes back through the same task-local, since
//! cqrs-es's `execute` returns `()`.

use std::sync::Arc;

use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot,
};
use cqrs_es::Aggregate;
use serde_json::Value;
use tokio::sync::Notify;

use super::event_log::{map_sqlx, ChainHead, EventLog, Replayed, Seed};
use super::{CommitOutcome, Store, COMMAND_CONTEXT};
use crate::db::Db;

/// The event repository of one database.
#[derive(Clone)]
pub struct EventRepository {
    log: Arc<dyn EventLog>,
    /// Wakes the feed subscribers after every commit, so jobs finish without waiting for a poll.
    committed: Arc<Notify>,
}

impl EventRepository {
    /// A repository whose every commit is a statement of its own.
    pub fn new(db: Db, committed: Arc<Notify>) -> Self {
        Self::over(Store::new(&db).event_log, committed)
    }

    /// A repository over `log` (the command bus shares one grouped log among all its
    /// repositories, so concurrent commands are written, and their entities read, together).
    pub fn over(log: Arc<dyn EventLog>, committed: Arc<Notify>) -> Self {
        Self { log, committed }
    }

    /// An entity's events in order, with its chain head where the backend reads it along.
    pub(crate) async fn load(
        &self,
        aggregate_type: &'static str,
        aggregate_id: &str,
    ) -> Result<Replayed, PersistenceError> {
        self.log
            .load(aggregate_type, aggregate_id)
            .await
            .map_err(map_sqlx)
    }

    /// Appends one commit (see [`EventLog::append`]); returns the new chain head of the
    /// commit's last aggregate.
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
        let stored = self.log.append(context.as_deref(), events, seed).await?;
        if let Some(ctx) = &context {
            ctx.record_outcome(CommitOutcome {
                last_sequence: last,
                positions: stored.events.iter().map(|e| e.global_position).collect(),
            });
        }
        self.committed.notify_waiters();
        Ok(stored.head)
    }
}

impl PersistedEventRepository for EventRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.log
            .events(A::TYPE, aggregate_id, 0)
            .await
            .map_err(map_sqlx)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.log
            .events(A::TYPE, aggregate_id, last_sequence as i64)
            .await
            .map_err(map_sqlx)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
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
        let events = self.get_events::<A>(aggregate_id).await?;
        Ok(replay(events))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        let events = self.log.all_events(A::TYPE).await.map_err(map_sqlx)?;
        Ok(replay(events))
    }
}

/// A replay stream over events already read.
fn replay(events: Vec<SerializedEvent>) -> ReplayStream {
    let (feed, stream) = ReplayStream::new(events.len() + 1);
    tokio::spawn(async move {
        let mut feed = feed;
        for event in events {
            if feed.push(Ok(event)).await.is_err() {
                return;
            }
        }
    });
    stream
}
