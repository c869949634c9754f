//! One commit prepared by its command, and the statement that writes one or more of them.
//!
//! A [`PreparedCommit`] holds the commit's rows as they are: its idempotency record, its job, its
//! chained events and its projection rows. The statement takes every kind of row as parallel
//! arrays (`UNNEST`), so the columns are gathered from the commits of a group only when it is
//! bound ([`write`]), borrowing their values.

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use ehealth_projections::Batch;
use serde_json::Value;

use crate::store::NewJob;

/// Where an appended event landed: `(aggregate_type, aggregate_id, sequence, global_position)`.
pub(crate) type Position = (String, String, i64, i64);

/// One event of a commit, chained.
pub(crate) struct ChainedEvent {
    pub event: SerializedEvent,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Vec<u8>,
}

/// The idempotency record of a commit.
pub(crate) struct CommandRecord {
    pub command_id: String,
    pub request_hash: String,
    pub response: Option<Value>,
    /// The sequence of the commit's last event.
    pub last_sequence: i64,
}

/// A commit ready for the append statement. Its idempotency record and job belong to its first
/// event's aggregate; a commit has at least one event.
pub(crate) struct PreparedCommit {
    pub command: Option<CommandRecord>,
    pub job: Option<NewJob>,
    pub events: Vec<ChainedEvent>,
    pub projections: Batch,
}

impl PreparedCommit {
    /// The aggregate the idempotency record and the job belong to.
    fn first(&self) -> (&str, &str) {
        self.events.first().map_or(("", ""), |e| {
            (
                e.event.aggregate_type.as_str(),
                e.event.aggregate_id.as_str(),
            )
        })
    }

    fn aggregates(&self) -> impl Iterator<Item = (&str, &str)> {
        self.events.iter().map(|e| {
            (
                e.event.aggregate_type.as_str(),
                e.event.aggregate_id.as_str(),
            )
        })
    }

    /// Whether `position` is one of this commit's events.
    pub fn owns(&self, position: &Position) -> bool {
        self.aggregates()
            .any(|(t, a)| t == position.0 && a == position.1)
    }

    /// Whether one statement cannot write both: they append to a common aggregate or carry the
    /// same idempotency key or job key.
    pub fn overlaps(&self, other: &PreparedCommit) -> bool {
        fn command(c: &PreparedCommit) -> Option<&str> {
            c.command.as_ref().map(|r| r.command_id.as_str())
        }
        fn job(c: &PreparedCommit) -> Option<&str> {
            c.job.as_ref().map(|j| j.id.as_str())
        }
        fn dedup(c: &PreparedCommit) -> Option<&str> {
            c.job.as_ref().and_then(|j| j.dedup_key.as_deref())
        }
        other
            .aggregates()
            .any(|key| self.aggregates().any(|mine| mine == key))
            || command(other).is_some_and(|id| command(self) == Some(id))
            || job(other).is_some_and(|id| job(self) == Some(id))
            || dedup(other).is_some_and(|key| dedup(self) == Some(key))
    }

    /// Writes this commit alone with one statement (one implicit transaction).
    pub async fn write<'c>(
        &self,
        executor: impl sqlx::PgExecutor<'c>,
    ) -> Result<Vec<Position>, sqlx::Error> {
        write(&[self], &self.projections, executor).await
    }
}

/// Writes `commits` with one statement (one implicit transaction); `projections` holds the
/// projection rows of all of them.
pub(crate) async fn write<'c>(
    commits: &[&PreparedCommit],
    projections: &Batch,
    executor: impl sqlx::PgExecutor<'c>,
) -> Result<Vec<Position>, sqlx::Error> {
    let sql = append_sql(projections);
    let commands = || {
        commits
            .iter()
            .filter_map(|c| c.command.as_ref().map(|r| (c.first(), r)))
    };
    let jobs = || {
        commits
            .iter()
            .filter_map(|c| c.job.as_ref().map(|j| (c.first(), j)))
    };
    let events = || commits.iter().flat_map(|c| &c.events);
    let query = sqlx::query(&sql)
        .bind(column(commands(), |(_, r)| r.command_id.as_str()))
        .bind(column(commands(), |(_, r)| r.request_hash.as_str()))
        .bind(column(commands(), |((t, _), _)| t))
        .bind(column(commands(), |((_, a), _)| a))
        .bind(column(commands(), |(_, r)| r.last_sequence))
        .bind(column(commands(), |(_, r)| r.response.as_ref()))
        .bind(column(jobs(), |(_, j)| j.id.as_str()))
        .bind(column(jobs(), |(_, j)| j.legal_entity_id))
        .bind(column(jobs(), |(_, j)| j.user_id))
        .bind(column(jobs(), |(_, j)| j.action))
        .bind(column(jobs(), |((t, _), _)| t))
        .bind(column(jobs(), |((_, a), _)| a))
        .bind(column(jobs(), |(_, j)| j.eta))
        .bind(column(jobs(), |(_, j)| j.dedup_key.as_deref()))
        .bind(column(events(), |e| e.event.aggregate_type.as_str()))
        .bind(column(events(), |e| e.event.aggregate_id.as_str()))
        .bind(column(events(), |e| e.event.sequence as i64))
        .bind(column(events(), |e| e.event.event_type.as_str()))
        .bind(column(events(), |e| e.event.event_version.as_str()))
        .bind(column(events(), |e| &e.event.payload))
        .bind(column(events(), |e| &e.event.metadata))
        .bind(column(events(), |e| e.recorded_at))
        .bind(column(events(), |e| e.prev_hash.as_deref()))
        .bind(column(events(), |e| e.hash.as_slice()));
    projections
        .bind_append(query)
        .try_map(|row: sqlx::postgres::PgRow| {
            use sqlx::Row;
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
            ))
        })
        .fetch_all(executor)
        .await
}

/// One `UNNEST` column: a field of every row.
fn column<R, T>(rows: impl Iterator<Item = R>, field: impl Fn(R) -> T) -> Vec<T> {
    rows.map(field).collect()
}

/// The append statement: idempotency records, jobs, events and projections in one statement of
/// data-modifying CTEs, so a commit (or a group of them) is one round trip and one implicit
/// transaction. The idempotency records are written before the events (`ev` waits on `cmd`): a
/// concurrent request with the same key then waits on that key, not on the events' primary key,
/// and is answered as a retry instead of being retried as a conflict.
fn append_sql(projections: &Batch) -> String {
    let (projections, _) = projections.append_ctes(25);
    format!(
        "WITH cmd AS (INSERT INTO processed_commands (command_id, request_hash, aggregate_type, \
         aggregate_id, last_sequence, response) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], \
         $6::jsonb[]) RETURNING 1), \
         job AS (INSERT INTO jobs (id, legal_entity_id, user_id, action, aggregate_type, \
         aggregate_id, eta, dedup_key) \
         SELECT * FROM UNNEST($7::text[], $8::uuid[], $9::uuid[], $10::text[], $11::text[], \
         $12::text[], $13::timestamptz[], $14::text[])), \
         ev AS (INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
         event_version, payload, metadata, recorded_at, prev_hash, hash) \
         SELECT u.* FROM UNNEST($15::text[], $16::text[], $17::bigint[], $18::text[], $19::text[], \
         $20::jsonb[], $21::jsonb[], $22::timestamptz[], $23::bytea[], $24::bytea[]) AS u \
         CROSS JOIN (SELECT count(*) FROM cmd) AS recorded_first \
         RETURNING aggregate_type, aggregate_id, sequence, global_position), \
         {projections} \
         SELECT aggregate_type, aggregate_id, sequence, global_position FROM ev"
    )
}
