//! The event log on SQLite: loads, and the append transaction (`BEGIN IMMEDIATE` behind the
//! process's write gate). The global position is the events table's AUTOINCREMENT key, assigned
//! inside the one write transaction there can be at a time, so positions commit in order and the
//! feed can simply read past its checkpoint.

use async_trait::async_trait;
use chrono::Utc;
use cqrs_es::persist::{PersistenceError, SerializedEvent};
use sqlx::types::Json;
use sqlx::SqliteConnection;

use crate::db::sqlite::{id, ts};
use crate::db::Lite;
use crate::store::chain::{chain, head_after, stored_events, Link, Predecessor};
use crate::store::event_log::{
    all_events, events_after, map_projection, map_sqlx, Appended, EventLog, Replayed, Seed,
    PREVIOUS,
};
use crate::store::CommandContext;

pub(crate) struct SqliteEventLog {
    lite: Lite,
}

impl SqliteEventLog {
    pub fn new(lite: Lite) -> Self {
        Self { lite }
    }
}

/// Predecessors read inside the append transaction.
struct InTransaction<'a>(&'a mut SqliteConnection);

impl Predecessor for InTransaction<'_> {
    async fn previous(
        &mut self,
        key: (&str, &str),
        sequence: i64,
    ) -> Result<Option<Link>, sqlx::Error> {
        sqlx::query_as(PREVIOUS)
            .bind(key.0)
            .bind(key.1)
            .bind(sequence)
            .fetch_optional(&mut *self.0)
            .await
    }
}

#[async_trait]
impl EventLog for SqliteEventLog {
    /// The events only: the append reads the predecessor it links to.
    async fn load(
        &self,
        aggregate_type: &'static str,
        aggregate_id: &str,
    ) -> Result<Replayed, sqlx::Error> {
        Ok(Replayed {
            events: self.events(aggregate_type, aggregate_id, 0).await?,
            head: None,
        })
    }

    async fn events(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after_sequence: i64,
    ) -> Result<Vec<SerializedEvent>, sqlx::Error> {
        events_after(
            &self.lite.pool,
            aggregate_type,
            aggregate_id,
            after_sequence,
        )
        .await
    }

    async fn all_events(&self, aggregate_type: &str) -> Result<Vec<SerializedEvent>, sqlx::Error> {
        all_events(&self.lite.pool, aggregate_type).await
    }

    /// One write transaction: idempotency record and job, the hash chain (from the seed's head
    /// when the caller has it), the events (positions assigned here) and the projections,
    /// committed together.
    async fn append(
        &self,
        context: Option<&CommandContext>,
        events: &[SerializedEvent],
        seed: Option<Seed>,
    ) -> Result<Appended, PersistenceError> {
        let last = events.last().map_or(0, |e| e.sequence as i64);
        let known = seed.and_then(|s| s.head);
        let mut tx = self.lite.begin_write().await.map_err(map_sqlx)?;
        if let (Some(ctx), Some(first)) = (context, events.first()) {
            record_command(tx.conn(), ctx, first, last)
                .await
                .map_err(map_sqlx)?;
        }
        let chained = chain(&mut InTransaction(tx.conn()), events, known.as_ref())
            .await
            .map_err(map_sqlx)?;
        let mut positions = Vec::with_capacity(events.len());
        for (e, c) in events.iter().zip(&chained) {
            let position: i64 = sqlx::query_scalar(
                "INSERT INTO events (recorded_at, aggregate_type, aggregate_id, sequence, event_type, \
                 event_version, payload, metadata, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING global_position",
            )
            .bind(ts(c.recorded_at))
            .bind(&e.aggregate_type)
            .bind(&e.aggregate_id)
            .bind(e.sequence as i64)
            .bind(&e.event_type)
            .bind(&e.event_version)
            .bind(Json(&e.payload))
            .bind(Json(&e.metadata))
            .bind(c.prev_hash.as_deref())
            .bind(c.hash.as_slice())
            .fetch_one(tx.conn())
            .await
            .map_err(map_sqlx)?;
            positions.push(position);
        }
        let mut next = positions.iter();
        let stored = stored_events(events, &chained, |_| next.next().copied().unwrap_or(0));
        ehealth_projections::project_sqlite(tx.conn(), &stored)
            .await
            .map_err(map_projection)?;
        tx.commit().await.map_err(map_sqlx)?;
        Ok(Appended {
            events: stored,
            head: head_after(last, &chained),
        })
    }
}

/// The idempotency record and the job of a commit whose first event is `first` (on PostgreSQL
/// they are part of the append statement).
async fn record_command(
    conn: &mut SqliteConnection,
    context: &CommandContext,
    first: &SerializedEvent,
    last_sequence: i64,
) -> Result<(), sqlx::Error> {
    if let Some((command_id, request_hash, response)) = &context.idempotency {
        sqlx::query(
            "INSERT INTO processed_commands (command_id, request_hash, aggregate_type, \
             aggregate_id, last_sequence, response, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(command_id)
        .bind(request_hash)
        .bind(&first.aggregate_type)
        .bind(&first.aggregate_id)
        .bind(last_sequence)
        .bind(response.as_ref().map(Json))
        .bind(ts(Utc::now()))
        .execute(&mut *conn)
        .await?;
    }
    if let Some(job) = &context.job {
        let now = ts(Utc::now());
        sqlx::query(
            "INSERT INTO jobs (id, legal_entity_id, user_id, action, aggregate_type, \
             aggregate_id, eta, dedup_key, inserted_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(&job.id)
        .bind(id(job.legal_entity_id))
        .bind(id(job.user_id))
        .bind(job.action)
        .bind(&first.aggregate_type)
        .bind(&first.aggregate_id)
        .bind(ts(job.eta))
        .bind(&job.dedup_key)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
