//! The event log on PostgreSQL. A commit's rows are prepared here (hash chain, projections folded
//! from the state before it) and written by one statement — through the group writers with the
//! commits of concurrent commands when the log has them ([`super::group_commit`]). A replay reads
//! the entity's events with their hashes and times (the chain head the next append builds on),
//! through the group readers when the log has them ([`super::group_read`]).

use std::time::Duration;

use async_trait::async_trait;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use ehealth_projections::{Fold, StoredEvent, Tables};
use sqlx::PgPool;

use super::group_commit::{ChainedEvent, CommandRecord, GroupCommit, PreparedCommit};
use super::group_read::{self, GroupRead};
use crate::store::chain::{chain, head_after, stored_events, Link, Predecessor};
use crate::store::event_log::{
    all_events, events_after, map_projection, map_sqlx, Appended, ChainHead, EventLog, Replayed,
    Seed, PREVIOUS,
};
use crate::store::CommandContext;

pub(crate) struct PgEventLog {
    pool: PgPool,
    /// The service's writers; without them each commit is written by its own statement.
    group: Option<GroupCommit>,
    /// The service's readers of replays; without them each replay is read by its own query.
    reads: Option<GroupRead>,
}

impl PgEventLog {
    /// A log whose every commit and replay is a statement of its own.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            group: None,
            reads: None,
        }
    }

    /// A log whose commits and replays go through group writers and readers, each statement
    /// bounded by `deadline`.
    pub fn grouped(pool: PgPool, deadline: Duration) -> Self {
        Self {
            group: Some(GroupCommit::new(&pool, deadline)),
            reads: Some(GroupRead::new(&pool, deadline)),
            pool,
        }
    }
}

/// Predecessors read on the pool (the append is one statement, not a transaction).
struct OnPool<'a>(&'a PgPool);

impl Predecessor for OnPool<'_> {
    async fn previous(
        &mut self,
        key: (&str, &str),
        sequence: i64,
    ) -> Result<Option<Link>, sqlx::Error> {
        sqlx::query_as(PREVIOUS)
            .bind(key.0)
            .bind(key.1)
            .bind(sequence)
            .fetch_optional(self.0)
            .await
    }
}

#[async_trait]
impl EventLog for PgEventLog {
    async fn load(
        &self,
        aggregate_type: &'static str,
        aggregate_id: &str,
    ) -> Result<Replayed, sqlx::Error> {
        let rows = match &self.reads {
            Some(reads) => reads.events(aggregate_type, aggregate_id).await,
            None => group_read::read_one(&self.pool, aggregate_type, aggregate_id).await,
        }?;
        let mut replayed = Replayed {
            events: Vec::with_capacity(rows.len()),
            head: None,
        };
        for (sequence, event_type, event_version, payload, metadata, hash, recorded_at) in rows {
            replayed.events.push(SerializedEvent::new(
                aggregate_id.to_string(),
                sequence as usize,
                aggregate_type.to_string(),
                event_type,
                event_version,
                payload,
                metadata,
            ));
            replayed.head = Some(ChainHead {
                sequence,
                hash,
                recorded_at,
            });
        }
        Ok(replayed)
    }

    async fn events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: i64,
    ) -> Result<Vec<SerializedEvent>, sqlx::Error> {
        events_after(&self.pool, aggregate_type, aggregate_id, after_sequence).await
    }

    async fn all_events(&self, aggregate_type: &str) -> Result<Vec<SerializedEvent>, sqlx::Error> {
        all_events(&self.pool, aggregate_type).await
    }

    async fn append(
        &self,
        context: Option<&CommandContext>,
        events: &[SerializedEvent],
        seed: Option<Seed>,
    ) -> Result<Appended, PersistenceError> {
        let last = events.last().map_or(0, |e| e.sequence as i64);
        let (fold_seed, known) = match seed {
            Some(seed) => (Some(seed.fold), seed.head),
            None => (None, None),
        };
        let chained = chain(&mut OnPool(&self.pool), events, known.as_ref())
            .await
            .map_err(map_sqlx)?;
        let mut stored = stored_events(events, &chained, |_| 0);

        // The projection rows, folded from the state before the commit.
        let mut fold = Fold::over_existing();
        match fold_seed {
            Some(put) => put(&mut fold).map_err(map_projection)?,
            None => {
                let refs: Vec<_> = stored.iter().map(StoredEvent::as_ref).collect();
                let mut conn = self.pool.acquire().await.map_err(map_sqlx)?;
                fold.load(&mut conn, &Tables::live(), &refs)
                    .await
                    .map_err(map_projection)?;
            }
        }
        for event in &stored {
            fold.apply(&event.as_ref()).map_err(map_projection)?;
        }

        let head = head_after(last, &chained);
        let commit = PreparedCommit {
            command: context.and_then(|c| c.idempotency.as_ref()).map(
                |(command_id, request_hash, response)| CommandRecord {
                    command_id: command_id.clone(),
                    request_hash: request_hash.clone(),
                    response: response.clone(),
                    last_sequence: last,
                },
            ),
            job: context.and_then(|c| c.job.clone()),
            events: events
                .iter()
                .zip(chained)
                .map(|(event, c)| ChainedEvent {
                    event: event.clone(),
                    recorded_at: c.recorded_at,
                    prev_hash: c.prev_hash,
                    hash: c.hash,
                })
                .collect(),
            projections: fold.take_batch(true).map_err(map_projection)?,
        };
        let positions = match &self.group {
            Some(group) => group.append(commit).await,
            None => commit.write(&self.pool).await,
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
}
