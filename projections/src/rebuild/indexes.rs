//! The keys, indexes and foreign keys of the aside tables: which statements re-create the live
//! ones, and when each runs. At the end of the first pass they are built once over the loaded
//! rows, on every connection at hand, each as soon as its table is complete, costliest first.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use sqlx::PgConnection;
use tokio::sync::Notify;

use super::engine::millis;
use super::swap::TablePair;
use crate::rows::{quote_ident, Tables};
use crate::ProjectionError;

/// What must be done before a table's keys and indexes can be built at the end of the first
/// pass: all entity rows written (by both writers), or the held history or feed rows copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    EntitiesLoaded,
    HistoryCopied,
    FeedCopied,
}

impl Stage {
    /// The stage after which `table` is complete.
    fn of(table: &str) -> Stage {
        match table {
            "status_history" => Stage::HistoryCopied,
            "status_change_events" => Stage::FeedCopied,
            _ => Stage::EntitiesLoaded,
        }
    }
}

/// One statement that re-creates a live key, index or foreign key on an aside table.
#[derive(Debug, Clone)]
pub(crate) struct IndexStatement {
    stage: Stage,
    pub(super) sql: String,
    /// Foreign keys need the keys they reference: they run after every other statement.
    pub(super) foreign: bool,
    /// A rough cost (the live table's and index's sizes), to start the longest builds first.
    cost: i64,
}

/// One job of the end of the first pass.
enum Job {
    Sql(String),
    CopyHistory(Arc<Vec<crate::Batch>>),
    CopyFeed(Arc<Vec<crate::Batch>>),
}

struct Queued {
    job: Job,
    /// Runs once this stage is reached (`None`: at once).
    after: Option<Stage>,
    /// The stage this job completes.
    completes: Option<Stage>,
    cost: i64,
}

/// The work at the end of the first pass, shared by the two writer connections: the held status
/// rows' copies and every key and index build, each started as soon as its table is complete,
/// costliest first. Foreign keys are left for later ([`Engine::ensure_indexed`]).
pub(crate) struct IndexQueue {
    state: Mutex<QueueState>,
    changed: Notify,
}

struct QueueState {
    waiting: Vec<Queued>,
    reached: Vec<Stage>,
    /// Writers that have not yet written all their entity rows.
    loading: usize,
    /// A writer failed: the other stops waiting for it.
    abandoned: bool,
    /// The fold has handed the end of the first pass over ([`Writers::finish_load`]).
    handed_over: bool,
}

impl QueueState {
    fn reach(&mut self, stage: Stage) {
        if !self.reached.contains(&stage) {
            self.reached.push(stage);
        }
    }
}

impl IndexQueue {
    /// A queue of `statements` (but the foreign keys) for tables loaded by `writers` writers.
    pub(super) fn new(statements: &[IndexStatement], writers: usize) -> Arc<Self> {
        let waiting = statements
            .iter()
            .filter(|s| !s.foreign)
            .map(|s| Queued {
                job: Job::Sql(s.sql.clone()),
                after: Some(s.stage),
                completes: None,
                cost: s.cost,
            })
            .collect();
        let queue = Arc::new(Self {
            state: Mutex::new(QueueState {
                waiting,
                reached: Vec::new(),
                loading: writers,
                abandoned: false,
                handed_over: false,
            }),
            changed: Notify::new(),
        });
        queue.sort();
        queue
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sort(&self) {
        self.lock()
            .waiting
            .sort_by_key(|q| std::cmp::Reverse(q.cost));
    }

    /// Adds the copies of the held status rows (each table's stage is reached when its copy
    /// is done; at once when there is nothing to copy).
    pub(super) fn add_status_copies(&self, held: Vec<crate::Batch>) {
        {
            let mut state = self.lock();
            state.handed_over = true;
            if held.is_empty() {
                state.reach(Stage::HistoryCopied);
                state.reach(Stage::FeedCopied);
            } else {
                let held = Arc::new(held);
                let rows: usize = held.iter().map(crate::Batch::len).sum();
                // Copies come before any build of a table of the same size.
                let cost = i64::MAX / 2 + rows as i64;
                state.waiting.push(Queued {
                    job: Job::CopyHistory(held.clone()),
                    after: None,
                    completes: Some(Stage::HistoryCopied),
                    cost: cost + 1,
                });
                state.waiting.push(Queued {
                    job: Job::CopyFeed(held),
                    after: None,
                    completes: Some(Stage::FeedCopied),
                    cost,
                });
            }
        }
        self.sort();
        self.changed.notify_waiters();
    }

    /// One writer has written all its entity rows.
    pub(super) fn entities_loaded(&self) {
        {
            let mut state = self.lock();
            state.loading = state.loading.saturating_sub(1);
            if state.loading == 0 {
                state.reach(Stage::EntitiesLoaded);
            }
        }
        self.changed.notify_waiters();
    }

    /// Every stage reached: for builds after the first pass.
    pub(super) fn all_reached(&self) {
        {
            let mut state = self.lock();
            state.loading = 0;
            for stage in [
                Stage::EntitiesLoaded,
                Stage::HistoryCopied,
                Stage::FeedCopied,
            ] {
                state.reach(stage);
            }
        }
        self.changed.notify_waiters();
    }

    pub(super) fn handed_over(&self) -> bool {
        self.lock().handed_over
    }

    pub(super) fn abandon(&self) {
        self.lock().abandoned = true;
        self.changed.notify_waiters();
    }

    fn done(&self, completes: Option<Stage>) {
        if let Some(stage) = completes {
            self.lock().reach(stage);
        }
        self.changed.notify_waiters();
    }

    /// The next job to run; `None` when none is left (or the other writer failed).
    async fn next(&self) -> Option<(Job, Option<Stage>)> {
        loop {
            let changed = self.changed.notified();
            {
                let mut state = self.lock();
                if state.abandoned || state.waiting.is_empty() {
                    return None;
                }
                let ready = state
                    .waiting
                    .iter()
                    .position(|q| q.after.is_none_or(|stage| state.reached.contains(&stage)));
                if let Some(i) = ready {
                    let queued = state.waiting.remove(i);
                    return Some((queued.job, queued.completes));
                }
            }
            changed.await;
        }
    }

    /// Runs jobs on `conn` until none is left.
    pub(super) async fn run(
        &self,
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), ProjectionError> {
        while let Some((job, completes)) = self.next().await {
            let t = Instant::now();
            match &job {
                Job::Sql(sql) => {
                    sqlx::query(sql).execute(&mut *conn).await?;
                }
                Job::CopyHistory(held) => {
                    crate::Batch::copy_history_sorted(held, &mut *conn, tables).await?;
                }
                Job::CopyFeed(held) => {
                    crate::Batch::copy_feed_sorted(held, &mut *conn, tables).await?;
                }
            }
            self.done(completes);
            let what = match &job {
                Job::Sql(sql) => sql.as_str(),
                Job::CopyHistory(_) => "copy of the held history rows",
                Job::CopyFeed(_) => "copy of the held feed rows",
            };
            tracing::debug!(ms = millis(t), what, "projections: job done");
        }
        Ok(())
    }
}

/// The statements that re-create the live tables' keys (primary, unique, exclusion), indexes
/// and foreign keys on the aside tables, under the same names, so that after a swap nothing
/// tells them apart. Planner statistics are left to autovacuum, which analyzes the new tables
/// soon after the swap (their inserted rows count).
pub(super) async fn index_statements(
    conn: &mut PgConnection,
    pairs: &[TablePair],
) -> Result<Vec<IndexStatement>, ProjectionError> {
    let mut out = Vec::new();
    for pair in pairs {
        let stage = Stage::of(pair.name);
        let constraints: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid), contype::text, \
             pg_relation_size(conrelid) + CASE WHEN conindid <> 0 \
             THEN pg_relation_size(conindid) ELSE 0 END \
             FROM pg_constraint \
             WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x', 'f') ORDER BY conname",
        )
        .bind(&pair.live)
        .fetch_all(&mut *conn)
        .await?;
        for (constraint, definition, kind, cost) in constraints {
            out.push(IndexStatement {
                stage,
                sql: format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} {definition}",
                    pair.aside,
                    quote_ident(&constraint)
                ),
                foreign: kind == "f",
                cost,
            });
        }
        let plain: Vec<(String, i64)> = sqlx::query_as(
            "SELECT pg_get_indexdef(ix.indexrelid), \
             pg_relation_size(ix.indrelid) + pg_relation_size(ix.indexrelid) FROM pg_index ix \
             WHERE ix.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
               WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid) \
             ORDER BY ix.indexrelid",
        )
        .bind(&pair.live)
        .fetch_all(&mut *conn)
        .await?;
        for (definition, cost) in plain {
            let on_live = format!(" ON {} ", pair.live);
            if definition.matches(&on_live).count() != 1 {
                return Err(ProjectionError::Schema(format!(
                    "cannot re-create index `{definition}` on {}",
                    pair.aside
                )));
            }
            out.push(IndexStatement {
                stage,
                sql: definition.replacen(&on_live, &format!(" ON {} ", pair.aside), 1),
                foreign: false,
                cost,
            });
        }
    }
    Ok(out)
}

/// Builds every statement of `statements` on the two connections at once: keys and indexes
/// costliest first, then the foreign keys (which need the keys they reference).
pub(super) async fn add_indexes(
    conns: [&mut PgConnection; 2],
    statements: &[IndexStatement],
    tables: &Tables,
) -> Result<(), ProjectionError> {
    let [first, second] = conns;
    let queue = IndexQueue::new(statements, 0);
    queue.all_reached();
    let (a, b) = tokio::join!(
        queue.run(&mut *first, tables),
        queue.run(&mut *second, tables)
    );
    a?;
    b?;
    for statement in statements.iter().filter(|s| s.foreign) {
        sqlx::query(&statement.sql).execute(&mut *first).await?;
    }
    Ok(())
}
