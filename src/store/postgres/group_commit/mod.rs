//! Group commit on PostgreSQL: the appends of concurrent commands written by one statement.
//!
//! Each commit is prepared by its command (hash chain, projection rows) into a [`PreparedCommit`]:
//! the idempotency record, the job, the events and the projection rows. A few
//! writer tasks take what is queued — one commit when the service is quiet, every commit waiting
//! when it is busy — and write it with one statement of data-modifying CTEs ([`commit::write`]), so
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

mod commit;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ehealth_projections::Batch;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::held::Held;
use crate::store::event_log::{append_timed_out, is_append_timeout};
use commit::Position;
pub(super) use commit::{ChainedEvent, CommandRecord, PreparedCommit};

/// Writer tasks: statements in flight at once. Commits that arrive while they are busy wait and
/// are written together by the next free writer.
const WRITERS: usize = 4;

/// Commits written by one statement at most.
const MAX_GROUP: usize = 64;

/// Commits that may wait for a writer: beyond them a commit is refused at once (503, nothing
/// done) rather than queued behind a database that does not answer.
const QUEUE: usize = WRITERS * MAX_GROUP * 4;

/// A commit waiting for a writer.
struct Queued {
    commit: PreparedCommit,
    answer: oneshot::Sender<Result<Vec<Position>, sqlx::Error>>,
    /// When it was queued: a commit that waited past the deadline is not written (its client
    /// was answered meanwhile), so a timed-out request is either done or findable, never done
    /// long after.
    queued_at: Instant,
}

/// The writers of one database, started on the first append.
pub(crate) struct GroupCommit {
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
    /// deadline answers [`append_timed_out`] (it may have committed).
    pub(crate) async fn append(
        &self,
        commit: PreparedCommit,
    ) -> Result<Vec<Position>, sqlx::Error> {
        let queue = self
            .queue
            .get_or_init(|| start(self.pool.clone(), self.deadline));
        let (answer, answered) = oneshot::channel();
        queue
            .try_send(Queued {
                commit,
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
                if group.iter().any(|q| q.commit.overlaps(&next.commit)) {
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
async fn write_held(
    held: &mut Held,
    commits: &[&PreparedCommit],
    projections: &Batch,
) -> Result<Vec<Position>, sqlx::Error> {
    let deadline = held.deadline;
    let conn = held.conn().await?;
    match tokio::time::timeout(deadline, commit::write(commits, projections, conn)).await {
        Ok(Ok(positions)) => Ok(positions),
        Ok(Err(err)) => {
            held.failed();
            Err(err)
        }
        Err(_) => {
            held.abandon();
            Err(append_timed_out())
        }
    }
}

/// One statement for the group; if it fails, one statement per commit, each answered with its
/// own outcome. A group whose statement outlived the deadline is not written again: its commits
/// are answered with an unknown outcome.
async fn write_group(held: &mut Held, mut group: Vec<Queued>) {
    if group.len() == 1 {
        let queued = group.remove(0);
        let commit = &queued.commit;
        let result = write_held(held, &[commit], &commit.projections).await;
        let _ = queued.answer.send(result);
        return;
    }
    let mut projections = Batch::default();
    for queued in &group {
        projections.absorb(&queued.commit.projections);
    }
    let commits: Vec<&PreparedCommit> = group.iter().map(|q| &q.commit).collect();
    match write_held(held, &commits, &projections).await {
        Ok(positions) => {
            for queued in group {
                let mine = positions
                    .iter()
                    .filter(|p| queued.commit.owns(p))
                    .cloned()
                    .collect();
                let _ = queued.answer.send(Ok(mine));
            }
        }
        Err(err) if is_append_timeout(&err) => {
            for queued in group {
                let _ = queued.answer.send(Err(append_timed_out()));
            }
        }
        Err(err) => {
            tracing::debug!(error = %err, commits = group.len(), "group append failed; writing its commits one by one");
            let (pool, deadline) = (held.pool(), held.deadline);
            futures::future::join_all(group.into_iter().map(|queued| {
                let pool = pool.clone();
                async move {
                    let result = tokio::time::timeout(deadline, queued.commit.write(&pool))
                        .await
                        .unwrap_or_else(|_| Err(append_timed_out()));
                    let _ = queued.answer.send(result);
                }
            }))
            .await;
        }
    }
}

#[cfg(test)]
mod tests;
