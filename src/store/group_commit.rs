//! Group commit on PostgreSQL: the appends of concurrent commands written by one statement.
//!
//! Each commit is prepared by its command (hash chain, projection rows) into [`AppendRows`]:
//! the idempotency record, the job, the events and the projection rows, column by column. A few
//! writer tasks take what is queued — one commit when the service is quiet, every commit waiting
//! when it is busy — and write it with one statement of data-modifying CTEs ([`append_sql`]), so
//! one round trip, one executor start and one durable commit serve many commands. A command is
//! answered only after that commit.
//!
//! The commits of one statement are all or nothing together, so one that cannot be written (an
//! append that conflicts on the events' primary key, an Idempotency-Key already used) must not
//! fail the others: when a grouped statement fails, each of its commits is written again on its
//! own and gets its own answer (a job key already pending fails its own commit only, with the
//! index's name, as on a commit written alone). Commits are grouped only when they touch
//! different aggregates and carry different idempotency keys and job keys (within one process,
//! commands on one entity already queue behind its lock, so this only keeps a group statement
//! from touching a row twice).

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use ehealth_projections::Batch;
use serde_json::Value;
use sqlx::PgPool;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Mutex};

use super::held::Held;
use uuid::Uuid;

/// Writer tasks: statements in flight at once. Commits that arrive while they are busy wait and
/// are written together by the next free writer.
pub const WRITERS: usize = 4;

/// Commits written by one statement at most.
pub const MAX_GROUP: usize = 64;

/// Where an appended event landed: `(aggregate_type, aggregate_id, sequence, global_position)`.
pub(crate) type Position = (String, String, i64, i64);

/// One or more commits' rows, ready for [`append_sql`].
#[derive(Default)]
pub(crate) struct AppendRows {
    cmd_id: Vec<String>,
    cmd_hash: Vec<String>,
    cmd_type: Vec<String>,
    cmd_aggregate: Vec<String>,
    cmd_last: Vec<i64>,
    cmd_response: Vec<Option<Value>>,

    job_id: Vec<String>,
    job_legal_entity: Vec<Uuid>,
    job_user: Vec<Uuid>,
    job_action: Vec<&'static str>,
    job_type: Vec<String>,
    job_aggregate: Vec<String>,
    job_eta: Vec<DateTime<Utc>>,
    job_dedup_key: Vec<Option<String>>,

    ev_type: Vec<String>,
    ev_aggregate: Vec<String>,
    ev_sequence: Vec<i64>,
    ev_event_type: Vec<String>,
    ev_version: Vec<String>,
    ev_payload: Vec<Value>,
    ev_metadata: Vec<Value>,
    ev_recorded_at: Vec<DateTime<Utc>>,
    ev_prev_hash: Vec<Option<Vec<u8>>>,
    ev_hash: Vec<Vec<u8>>,

    projections: Batch,
}

/// One event of a commit, chained.
pub(crate) struct EventRow<'a> {
    pub event: &'a cqrs_es::persist::SerializedEvent,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Vec<u8>,
}

impl AppendRows {
    /// The idempotency record of a commit whose first aggregate is `(aggregate_type, aggregate_id)`.
    pub fn command(
        &mut self,
        (command_id, request_hash, response): &(String, String, Option<Value>),
        (aggregate_type, aggregate_id): (&str, &str),
        last_sequence: i64,
    ) {
        self.cmd_id.push(command_id.clone());
        self.cmd_hash.push(request_hash.clone());
        self.cmd_type.push(aggregate_type.to_owned());
        self.cmd_aggregate.push(aggregate_id.to_owned());
        self.cmd_last.push(last_sequence);
        self.cmd_response.push(response.clone());
    }

    pub fn job(&mut self, job: &super::NewJob, (aggregate_type, aggregate_id): (&str, &str)) {
        self.job_id.push(job.id.clone());
        self.job_legal_entity.push(job.legal_entity_id);
        self.job_user.push(job.user_id);
        self.job_action.push(job.action);
        self.job_type.push(aggregate_type.to_owned());
        self.job_aggregate.push(aggregate_id.to_owned());
        self.job_eta.push(job.eta);
        self.job_dedup_key.push(job.dedup_key.clone());
    }

    pub fn event(&mut self, row: EventRow<'_>) {
        let e = row.event;
        self.ev_type.push(e.aggregate_type.clone());
        self.ev_aggregate.push(e.aggregate_id.clone());
        self.ev_sequence.push(e.sequence as i64);
        self.ev_event_type.push(e.event_type.clone());
        self.ev_version.push(e.event_version.clone());
        self.ev_payload.push(e.payload.clone());
        self.ev_metadata.push(e.metadata.clone());
        self.ev_recorded_at.push(row.recorded_at);
        self.ev_prev_hash.push(row.prev_hash);
        self.ev_hash.push(row.hash);
    }

    pub fn projections(&mut self, batch: Batch) {
        self.projections = batch;
    }

    /// Whether one statement cannot write both: they append to a common aggregate or carry the
    /// same idempotency key or job key.
    fn overlaps(&self, other: &AppendRows) -> bool {
        let aggregates = |rows: &AppendRows| {
            rows.ev_type
                .iter()
                .zip(&rows.ev_aggregate)
                .map(|(t, a)| (t.clone(), a.clone()))
                .collect::<Vec<_>>()
        };
        let mine = aggregates(self);
        aggregates(other).iter().any(|key| mine.contains(key))
            || other.cmd_id.iter().any(|id| self.cmd_id.contains(id))
            || other.job_id.iter().any(|id| self.job_id.contains(id))
            || other
                .job_dedup_key
                .iter()
                .flatten()
                .any(|key| self.job_dedup_key.iter().flatten().any(|k| k == key))
    }

    /// Appends copies of `other`'s rows.
    fn absorb(&mut self, other: &AppendRows) {
        let AppendRows {
            cmd_id,
            cmd_hash,
            cmd_type,
            cmd_aggregate,
            cmd_last,
            cmd_response,
            job_id,
            job_legal_entity,
            job_user,
            job_action,
            job_type,
            job_aggregate,
            job_eta,
            job_dedup_key,
            ev_type,
            ev_aggregate,
            ev_sequence,
            ev_event_type,
            ev_version,
            ev_payload,
            ev_metadata,
            ev_recorded_at,
            ev_prev_hash,
            ev_hash,
            projections,
        } = other;
        self.cmd_id.extend_from_slice(cmd_id);
        self.cmd_hash.extend_from_slice(cmd_hash);
        self.cmd_type.extend_from_slice(cmd_type);
        self.cmd_aggregate.extend_from_slice(cmd_aggregate);
        self.cmd_last.extend_from_slice(cmd_last);
        self.cmd_response.extend_from_slice(cmd_response);
        self.job_id.extend_from_slice(job_id);
        self.job_legal_entity.extend_from_slice(job_legal_entity);
        self.job_user.extend_from_slice(job_user);
        self.job_action.extend_from_slice(job_action);
        self.job_type.extend_from_slice(job_type);
        self.job_aggregate.extend_from_slice(job_aggregate);
        self.job_eta.extend_from_slice(job_eta);
        self.job_dedup_key.extend_from_slice(job_dedup_key);
        self.ev_type.extend_from_slice(ev_type);
        self.ev_aggregate.extend_from_slice(ev_aggregate);
        self.ev_sequence.extend_from_slice(ev_sequence);
        self.ev_event_type.extend_from_slice(ev_event_type);
        self.ev_version.extend_from_slice(ev_version);
        self.ev_payload.extend_from_slice(ev_payload);
        self.ev_metadata.extend_from_slice(ev_metadata);
        self.ev_recorded_at.extend_from_slice(ev_recorded_at);
        self.ev_prev_hash.extend_from_slice(ev_prev_hash);
        self.ev_hash.extend_from_slice(ev_hash);
        self.projections.absorb(projections);
    }

    /// Writes the rows with one statement (one implicit transaction).
    pub async fn write<'c>(
        &self,
        executor: impl sqlx::PgExecutor<'c>,
    ) -> Result<Vec<Position>, sqlx::Error> {
        let sql = append_sql(&self.projections);
        let query = sqlx::query(&sql)
            .bind(&self.cmd_id)
            .bind(&self.cmd_hash)
            .bind(&self.cmd_type)
            .bind(&self.cmd_aggregate)
            .bind(&self.cmd_last)
            .bind(&self.cmd_response)
            .bind(&self.job_id)
            .bind(&self.job_legal_entity)
            .bind(&self.job_user)
            .bind(&self.job_action)
            .bind(&self.job_type)
            .bind(&self.job_aggregate)
            .bind(&self.job_eta)
            .bind(&self.job_dedup_key)
            .bind(&self.ev_type)
            .bind(&self.ev_aggregate)
            .bind(&self.ev_sequence)
            .bind(&self.ev_event_type)
            .bind(&self.ev_version)
            .bind(&self.ev_payload)
            .bind(&self.ev_metadata)
            .bind(&self.ev_recorded_at)
            .bind(&self.ev_prev_hash)
            .bind(&self.ev_hash);
        self.projections
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

/// Commits that may wait for a writer: beyond them a commit is refused at once (503, nothing
/// done) rather than queued behind a database that does not answer.
const QUEUE: usize = WRITERS * MAX_GROUP * 4;

/// A commit waiting for a writer.
struct Queued {
    rows: AppendRows,
    answer: oneshot::Sender<Result<Vec<Position>, sqlx::Error>>,
    /// When it was queued: a commit that waited past the deadline is not written (its client
    /// was answered meanwhile), so a timed-out request is either done or findable, never done
    /// long after.
    queued_at: Instant,
}

/// The writers of one database, started on the first append.
pub struct GroupCommit {
    /// The writers' own connections, one each.
    pool: PgPool,
    /// How long a statement, or a commit's wait in the queue, may take.
    deadline: Duration,
    queue: OnceLock<mpsc::Sender<Queued>>,
}

impl GroupCommit {
    /// Writers on connections of their own, with the settings of `pool`'s and the statement's
    /// generic plan ([`crate::db::generic_plan_pool`]; re-planning it was a tenth of the
    /// database's CPU under load).
    pub fn new(pool: &PgPool, deadline: Duration) -> Self {
        Self {
            pool: crate::db::generic_plan_pool(pool, WRITERS as u32),
            deadline,
            queue: OnceLock::new(),
        }
    }

    /// Writes one commit, possibly in one statement with others, and returns where its events
    /// landed once it is durable. A full queue refuses it at once; a statement that outlives the
    /// deadline answers [`super::append_timed_out`] (it may have committed).
    pub(crate) async fn append(&self, rows: AppendRows) -> Result<Vec<Position>, sqlx::Error> {
        let queue = self
            .queue
            .get_or_init(|| start(self.pool.clone(), self.deadline));
        let (answer, answered) = oneshot::channel();
        queue
            .try_send(Queued {
                rows,
                answer,
                queued_at: Instant::now(),
            })
            .map_err(|full| match full {
                mpsc::error::TrySendError::Full(_) => sqlx::Error::PoolTimedOut,
                mpsc::error::TrySendError::Closed(_) => sqlx::Error::PoolClosed,
            })?;
        answered
            .await
            .unwrap_or_else(|_| Err(sqlx::Error::WorkerCrashed))
    }
}

fn start(pool: PgPool, deadline: Duration) -> mpsc::Sender<Queued> {
    let (queue, waiting) = mpsc::channel(QUEUE);
    let waiting = Arc::new(Mutex::new(waiting));
    for _ in 0..WRITERS {
        tokio::spawn(writer(Held::new(pool.clone(), deadline), waiting.clone()));
    }
    queue
}

/// Takes what is waiting (at least one commit), writes it, answers; until the service drops its
/// [`GroupCommit`].
async fn writer(mut held: Held, waiting: Arc<Mutex<mpsc::Receiver<Queued>>>) {
    loop {
        let (group, later) = {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return;
            };
            let mut group = Vec::new();
            keep_unexpired(first, held.deadline, &mut group);
            let mut later = Vec::new();
            while group.len() < MAX_GROUP {
                let Ok(next) = waiting.try_recv() else {
                    break;
                };
                if group.iter().any(|q| q.rows.overlaps(&next.rows)) {
                    later.push(next);
                } else {
                    keep_unexpired(next, held.deadline, &mut group);
                }
            }
            (group, later)
        };
        if !group.is_empty() {
            write_group(&mut held, group).await;
        }
        for queued in later {
            write_group(&mut held, vec![queued]).await;
        }
    }
}

/// Keeps a commit for writing unless it waited past the deadline: its client has been answered,
/// and it is answered as not written.
fn keep_unexpired(queued: Queued, deadline: Duration, group: &mut Vec<Queued>) {
    if queued.queued_at.elapsed() > deadline {
        let _ = queued.answer.send(Err(sqlx::Error::PoolTimedOut));
    } else {
        group.push(queued);
    }
}

/// Writes on the writer's own connection ([`Held`]), within its deadline.
async fn write_held(held: &mut Held, rows: &AppendRows) -> Result<Vec<Position>, sqlx::Error> {
    let deadline = held.deadline;
    let conn = held.conn().await?;
    match tokio::time::timeout(deadline, rows.write(conn)).await {
        Ok(Ok(positions)) => Ok(positions),
        Ok(Err(err)) => {
            held.failed();
            Err(err)
        }
        Err(_) => {
            held.abandon();
            Err(super::append_timed_out())
        }
    }
}

/// One statement for the group; if it fails, one statement per commit, each answered with its
/// own outcome. A group whose statement outlived the deadline is not written again: its commits
/// are answered with an unknown outcome.
async fn write_group(held: &mut Held, mut group: Vec<Queued>) {
    if group.len() == 1 {
        let queued = group.remove(0);
        let result = write_held(held, &queued.rows).await;
        let _ = queued.answer.send(result);
        return;
    }
    let mut all = AppendRows::default();
    for queued in &group {
        all.absorb(&queued.rows);
    }
    match write_held(held, &all).await {
        Ok(positions) => {
            for queued in group {
                let mine = positions
                    .iter()
                    .filter(|p| {
                        queued
                            .rows
                            .ev_type
                            .iter()
                            .zip(&queued.rows.ev_aggregate)
                            .any(|(t, a)| *t == p.0 && *a == p.1)
                    })
                    .cloned()
                    .collect();
                let _ = queued.answer.send(Ok(mine));
            }
        }
        Err(err) if super::is_append_timeout(&err) => {
            for queued in group {
                let _ = queued.answer.send(Err(super::append_timed_out()));
            }
        }
        Err(err) => {
            tracing::debug!(error = %err, commits = group.len(), "group append failed; writing its commits one by one");
            let (pool, deadline) = (held.pool(), held.deadline);
            futures::future::join_all(group.into_iter().map(|queued| {
                let pool = pool.clone();
                async move {
                    let result = tokio::time::timeout(deadline, queued.rows.write(&pool))
                        .await
                        .unwrap_or_else(|_| Err(super::append_timed_out()));
                    let _ = queued.answer.send(result);
                }
            }))
            .await;
        }
    }
}

#[cfg(test)]
mod tests {
    //! On a real PostgreSQL (`EHEALTH_TEST_DATABASE_URL`, as the black-box suites). The commits of
    //! a test are queued before any writer runs (a current-thread runtime: the writers start on
    //! the first append and run only when the test awaits), so the first writer takes them all.

    use super::*;
    use cqrs_es::persist::SerializedEvent;
    use serde_json::json;
    use sqlx::{Connection, PgConnection};

    async fn database() -> PgPool {
        let admin = std::env::var("EHEALTH_TEST_DATABASE_URL").expect(
            "EHEALTH_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
        );
        let name = format!("ehealth_gc_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("admin connection");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let (base, _) = admin.rsplit_once('/').expect("admin URL names a database");
        let pool = crate::db::connect(&format!("{base}/{name}"), 8)
            .await
            .expect("connect");
        crate::db::migrate(&pool).await.expect("migrate");
        pool
    }

    fn event(aggregate_id: &str, sequence: usize) -> SerializedEvent {
        SerializedEvent::new(
            aggregate_id.to_owned(),
            sequence,
            "Approval".to_owned(),
            "ApprovalOtpResent".to_owned(),
            "1.0".to_owned(),
            json!({"ApprovalOtpResent": {"n": sequence}}),
            json!({"user_id": "test"}),
        )
    }

    /// One commit: `events` of one aggregate, with an idempotency key when given.
    fn commit(events: &[SerializedEvent], key: Option<&str>) -> AppendRows {
        let mut rows = AppendRows::default();
        if let Some(key) = key {
            let first = &events[0];
            rows.command(
                &(key.to_owned(), "hash".to_owned(), None),
                (&first.aggregate_type, &first.aggregate_id),
                events.last().map_or(0, |e| e.sequence as i64),
            );
        }
        for e in events {
            rows.event(EventRow {
                event: e,
                recorded_at: Utc::now(),
                prev_hash: None,
                hash: vec![e.sequence as u8; 32],
            });
        }
        rows
    }

    async fn scalar(pool: &PgPool, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
    }

    fn constraint(result: &Result<Vec<Position>, sqlx::Error>) -> Option<String> {
        match result {
            Err(sqlx::Error::Database(db)) => db.constraint().map(str::to_owned),
            _ => None,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_commits_are_written_in_one_transaction_and_each_learns_its_own_positions() {
        let pool = database().await;
        let group = GroupCommit::new(&pool, crate::db::DEFAULT_DEADLINE);
        let ids: Vec<String> = (0..8).map(|i| format!("agg-{i}")).collect();
        let commits: Vec<Vec<SerializedEvent>> = ids
            .iter()
            .map(|id| vec![event(id, 1), event(id, 2)])
            .collect();
        let results = futures::future::join_all(
            commits
                .iter()
                .enumerate()
                .map(|(i, events)| group.append(commit(events, Some(&format!("key-{i}"))))),
        )
        .await;

        for (id, result) in ids.iter().zip(&results) {
            let positions = result.as_ref().expect("committed");
            assert_eq!(positions.len(), 2, "{positions:?}");
            assert!(positions.iter().all(|p| p.0 == "Approval" && &p.1 == id));
            let mut sequences: Vec<i64> = positions.iter().map(|p| p.2).collect();
            sequences.sort();
            assert_eq!(sequences, [1, 2]);
        }
        let mut all: Vec<i64> = results
            .iter()
            .flat_map(|r| r.as_ref().unwrap().iter().map(|p| p.3))
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 16, "every event has a position of its own");
        assert_eq!(scalar(&pool, "SELECT count(*) FROM events").await, 16);
        assert_eq!(
            scalar(&pool, "SELECT count(*) FROM processed_commands").await,
            8
        );
        assert_eq!(
            scalar(&pool, "SELECT count(DISTINCT tx_id) FROM events").await,
            1,
            "the eight commits were written by one statement"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_conflicting_commit_fails_alone_and_the_rest_of_its_group_is_written() {
        let pool = database().await;
        let group = GroupCommit::new(&pool, crate::db::DEFAULT_DEADLINE);
        // Another instance appended event 1 of `taken` first.
        commit(&[event("taken", 1)], None)
            .write(&pool)
            .await
            .expect("first append");
        let commits = [
            vec![event("a", 1)],
            vec![event("taken", 1)],
            vec![event("b", 1)],
            vec![event("c", 1)],
        ];
        let results = futures::future::join_all(
            commits
                .iter()
                .enumerate()
                .map(|(i, events)| group.append(commit(events, Some(&format!("k{i}"))))),
        )
        .await;

        assert_eq!(constraint(&results[1]).as_deref(), Some("events_pkey"));
        for i in [0, 2, 3] {
            assert_eq!(results[i].as_ref().expect("written").len(), 1);
        }
        assert_eq!(scalar(&pool, "SELECT count(*) FROM events").await, 4);
        assert_eq!(
            scalar(&pool, "SELECT count(*) FROM processed_commands").await,
            3,
            "the refused commit left no idempotency record"
        );
        assert_eq!(
            scalar(
                &pool,
                "SELECT count(*) FROM events WHERE aggregate_id = 'taken'"
            )
            .await,
            1
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn two_commits_with_one_idempotency_key_are_not_grouped_and_the_second_is_a_duplicate() {
        let pool = database().await;
        let group = GroupCommit::new(&pool, crate::db::DEFAULT_DEADLINE);
        let (first, second, other) = ([event("x", 1)], [event("y", 1)], [event("z", 1)]);
        let results = futures::future::join_all([
            group.append(commit(&first, Some("same"))),
            group.append(commit(&second, Some("same"))),
            group.append(commit(&other, Some("another"))),
        ])
        .await;

        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert_eq!(
            constraint(&results[1]).as_deref(),
            Some("processed_commands_pkey")
        );
        assert!(results[2].is_ok(), "{:?}", results[2]);
        assert_eq!(
            scalar(
                &pool,
                "SELECT count(*) FROM events WHERE aggregate_id = 'y'"
            )
            .await,
            0
        );
        assert_eq!(
            scalar(&pool, "SELECT count(DISTINCT tx_id) FROM events").await,
            1,
            "the commits that could go together did"
        );
    }

    /// One commit with a job carrying the command key `dedup_key`.
    fn commit_with_job(events: &[SerializedEvent], dedup_key: &str) -> AppendRows {
        let mut rows = commit(events, None);
        let first = &events[0];
        rows.job(
            &super::super::NewJob {
                id: crate::jobs::new_job_id(),
                legal_entity_id: Uuid::nil(),
                user_id: Uuid::nil(),
                action: "resend_approval_otp",
                eta: Utc::now(),
                dedup_key: Some(dedup_key.to_owned()),
            },
            (&first.aggregate_type, &first.aggregate_id),
        );
        rows
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_commit_whose_job_key_is_pending_fails_alone_with_the_index_name_and_its_group_is_written(
    ) {
        let pool = database().await;
        let group = GroupCommit::new(&pool, crate::db::DEFAULT_DEADLINE);
        // The same command's job, still pending (written by another instance).
        commit_with_job(&[event("first", 1)], "same-command")
            .write(&pool)
            .await
            .expect("first append");
        let commits = [
            commit_with_job(&[event("a", 1)], "command-a"),
            commit_with_job(&[event("twin", 1)], "same-command"),
            commit(&[event("b", 1)], None),
        ];
        let results = futures::future::join_all(commits.into_iter().map(|c| group.append(c))).await;

        assert_eq!(
            constraint(&results[1]).as_deref(),
            Some("jobs_pending_dedup_key")
        );
        assert!(matches!(
            super::super::map_sqlx(results.into_iter().nth(1).unwrap().unwrap_err()),
            cqrs_es::persist::PersistenceError::UnknownError(e)
                if e.downcast_ref::<super::super::DuplicateJob>().is_some()
        ));
        assert_eq!(scalar(&pool, "SELECT count(*) FROM events").await, 3);
        assert_eq!(
            scalar(
                &pool,
                "SELECT count(*) FROM events WHERE aggregate_id = 'twin'"
            )
            .await,
            0
        );
        assert_eq!(scalar(&pool, "SELECT count(*) FROM jobs").await, 2);

        // Once that job is finished, the key is free again.
        sqlx::query("UPDATE jobs SET status = 'processed' WHERE dedup_key = 'same-command'")
            .execute(&pool)
            .await
            .unwrap();
        group
            .append(commit_with_job(&[event("twin", 1)], "same-command"))
            .await
            .expect("a new command");
        assert_eq!(scalar(&pool, "SELECT count(*) FROM jobs").await, 3);
    }

    #[test]
    fn commits_overlap_when_they_share_an_aggregate_or_a_key() {
        let a = commit(&[event("a", 1)], Some("k1"));
        assert!(a.overlaps(&commit(&[event("a", 2)], Some("k2"))));
        assert!(a.overlaps(&commit(&[event("b", 1)], Some("k1"))));
        assert!(!a.overlaps(&commit(&[event("b", 1)], Some("k2"))));
        assert!(!a.overlaps(&commit(&[event("b", 1)], None)));
        let keyed = commit_with_job(&[event("c", 1)], "command");
        assert!(keyed.overlaps(&commit_with_job(&[event("d", 1)], "command")));
        assert!(!keyed.overlaps(&commit_with_job(&[event("d", 1)], "another")));
    }
}
