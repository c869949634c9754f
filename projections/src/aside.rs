//! Building every projection aside, from the event log, while the service keeps appending.
//!
//! The aside tables live in their own schema and are created `LIKE` the live ones (columns,
//! defaults, checks, comments, storage). Their keys, indexes and foreign keys are re-created
//! under the live names once the bulk of the rows is in, so that after a swap nothing tells the
//! tables apart.
//!
//! The log is read in the feed's order, `(tx_id, global_position)`, in passes. A catch-up pass only
//! reads events of transactions below `pg_snapshot_xmin(pg_current_snapshot())`: every transaction
//! that could still commit an event has an id at or above that horizon, so nothing can later
//! appear behind the cursor (cqrs-es-notes §6.1). Passes repeat until little is left; the rest is
//! read by the caller under `LOCK TABLE events IN EXCLUSIVE MODE` (appends wait, reads go on), with
//! no horizon, because no appending transaction can then be in flight. Each event is thus read
//! exactly once; the fold also refuses an event at or below an entity's applied version.
//!
//! The first pass loads tables without keys or indexes with binary `COPY`: every status row once,
//! every entity's row once (an entity that changes again after its row was copied stays dirty and
//! is upserted right after the keys are built). Building keys and indexes once over the loaded
//! rows costs a fraction of maintaining them row by row. Later passes and the rest upsert with
//! the live path's own statements.
//!
//! A pass is a pipeline: a reader task streams events, the calling task folds them in memory
//! ([`Fold`]), two writer tasks write entity rows and status rows on their own connections, so
//! PostgreSQL works on both cores. Writes commit statement by statement with
//! `synchronous_commit = off` (the aside tables are worthless until the swap, which commits
//! synchronously), in short transactions, so a rebuild never holds back the feed's horizon for
//! the other subscribers.

use std::time::{Duration, Instant};

use std::any::Any;
use std::sync::{Arc, Mutex};

use cqrs_es::Aggregate;
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot, Notify};
use uuid::Uuid;

use crate::rows::{quote_ident, Tables, WriteMode, TABLES};
use crate::stored_event::Decoded;
use crate::{EventRef, Fold, Payload, ProjectionError};

/// Events handed from the reader to the fold at a time.
const READ_CHUNK: usize = 2_048;
/// History and feed rows gathered before they are sent to the writer (once the tables have keys).
const STATUS_FLUSH: usize = 20_000;
/// Events read per statement under the lock.
const REST_PAGE: i64 = 10_000;
/// A catch-up pass that read fewer events than this is close enough to take the lock.
const CLOSE_ENOUGH: u64 = 2_000;
const MAX_PASSES: usize = 20;
/// Key of the session advisory lock that keeps two rebuilds or verifies off one database.
pub const MAINTENANCE_LOCK: i64 = 0x6568_6561_6c74_6801;

/// Tunables of a rebuild or verify.
#[derive(Debug, Clone)]
pub struct Options {
    /// Entity states kept in memory; beyond that, written states are dropped and loaded back
    /// from the aside tables when their entity appears again.
    pub cache_entities: usize,
    /// New entities gathered before their rows are copied in during the first pass, so that the
    /// entity writer works while the log is still being read.
    pub copy_entities: usize,
    /// How long to wait for each lock of the final step before backing off and trying again.
    pub lock_timeout: Duration,
    /// Attempts at the final step before giving up.
    pub lock_attempts: u32,
    /// History and feed rows the first pass holds back, to load them in key order (which makes
    /// the key builds cheap); beyond that many, the held rows are written and holding starts over.
    pub held_status_rows: usize,
    /// `maintenance_work_mem` of each of the two connections that build keys and indexes, in
    /// MiB: enough to sort the largest index in memory.
    pub index_memory_mib: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cache_entities: 1_000_000,
            copy_entities: 5_000,
            lock_timeout: Duration::from_secs(2),
            lock_attempts: 10,
            held_status_rows: 2_000_000,
            index_memory_mib: 256,
        }
    }
}

/// A position in the log, in the feed's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cursor {
    pub tx_id: u64,
    pub position: i64,
}

/// One event as a rebuild reads it: the payload stays text until the fold deserializes it.
struct LogEvent {
    cursor: Cursor,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    payload: String,
    user_id: Option<Uuid>,
    recorded_at: DateTime<Utc>,
}

type LogRow = (
    String,
    i64,
    String,
    String,
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
);

impl LogEvent {
    fn from_row(row: LogRow) -> Result<Self, ProjectionError> {
        let (tx_id, position, aggregate_type, aggregate_id, sequence, payload, user_id, at) = row;
        let tx_id = tx_id
            .parse()
            .map_err(|_| ProjectionError::Schema(format!("tx_id {tx_id} is not an xid8")))?;
        Ok(Self {
            cursor: Cursor { tx_id, position },
            aggregate_type,
            aggregate_id,
            sequence,
            payload,
            user_id: user_id.and_then(|u| Uuid::parse_str(&u).ok()),
            recorded_at: at,
        })
    }

    fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            global_position: self.cursor.position,
            payload: Payload::Text(&self.payload),
            user_id: self.user_id,
            recorded_at: self.recorded_at,
        }
    }
}

/// The events after `$1/$2`, in the feed's order; `horizon` adds the catch-up bound. The ORDER BY
/// is qualified: a bare `tx_id` would name the select list's text column and sort `1000` before
/// `999`.
fn log_query(horizon: bool, limit: bool) -> String {
    format!(
        "SELECT tx_id::text, global_position, aggregate_type, aggregate_id, sequence, \
         payload::text, metadata->>'user_id', recorded_at FROM events \
         WHERE (tx_id, global_position) > ($1::text::xid8, $2){} \
         ORDER BY events.tx_id, events.global_position{}",
        if horizon {
            " AND tx_id < $3::text::xid8"
        } else {
            ""
        },
        if limit { " LIMIT $3" } else { "" }
    )
}

/// A live projection table and its aside twin.
#[derive(Debug, Clone)]
pub(crate) struct TablePair {
    pub name: &'static str,
    pub live_schema: String,
    /// As PostgreSQL prints it in index definitions (`public.service_requests`).
    pub live: String,
    pub aside: String,
    /// The live table's storage parameters (`name=value`), and those of its TOAST table: the
    /// aside table gets them at the swap (until then its autovacuum is off).
    pub reloptions: Vec<String>,
    pub toast_reloptions: Vec<String>,
}

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
    sql: String,
    /// Foreign keys need the keys they reference: they run after every other statement.
    foreign: bool,
    /// A rough cost (the live table's and index's sizes), to start the longest builds first.
    cost: i64,
}

/// Messages to a writer task.
enum Write {
    Rows(Box<crate::Batch>, WriteMode),
    /// Status rows held back by the first pass, copied in key order.
    SortedStatus(Vec<crate::Batch>),
    /// Every entity row this writer was sent is written.
    EntitiesLoaded(Arc<IndexQueue>),
    /// Run jobs (the held status rows' copies, key and index builds) from the shared queue.
    Index(Arc<IndexQueue>),
    /// Answered once every earlier batch is written.
    Sync(oneshot::Sender<()>),
}

/// The two writer tasks of a pass, each on its own connection, so that PostgreSQL writes on two
/// cores. Before the tables have keys, entity rows go to either (in turns: plain COPYs into
/// tables without keys cannot conflict) and status rows are held back; once they have keys,
/// entity rows go to the first (upserts of one entity must not race) and status rows to the
/// second.
struct Writers {
    entities: mpsc::Sender<Write>,
    status: mpsc::Sender<Write>,
    turn: std::sync::atomic::AtomicBool,
}

fn stopped() -> ProjectionError {
    ProjectionError::Task("a writer stopped".into())
}

impl Writers {
    async fn send(sender: &mpsc::Sender<Write>, write: Write) -> Result<(), ProjectionError> {
        sender.send(write).await.map_err(|_| stopped())
    }

    /// Sends a batch's entity rows and its status rows to their writers.
    async fn rows(&self, mut batch: crate::Batch, mode: WriteMode) -> Result<(), ProjectionError> {
        let entities = batch.split_entities();
        if !entities.is_empty() {
            Self::send(&self.entities, Write::Rows(Box::new(entities), mode)).await?;
        }
        if !batch.is_empty() {
            Self::send(&self.status, Write::Rows(Box::new(batch), mode)).await?;
        }
        Ok(())
    }

    /// Copies a batch's entity rows in (on the two writers in turn) and keeps its status rows
    /// in `held` (the first pass loads them in key order at its end); `held` is written once it
    /// grows past `limit` rows.
    async fn load_holding_status(
        &self,
        mut batch: crate::Batch,
        held: &mut Held,
        limit: usize,
    ) -> Result<(), ProjectionError> {
        let entities = batch.split_entities();
        if !entities.is_empty() {
            let writer = if self
                .turn
                .fetch_xor(true, std::sync::atomic::Ordering::Relaxed)
            {
                &self.status
            } else {
                &self.entities
            };
            Self::send(writer, Write::Rows(Box::new(entities), WriteMode::Load)).await?;
        }
        if !batch.is_empty() {
            held.rows += batch.len();
            held.batches.push(batch);
        }
        if held.rows >= limit {
            self.release(held).await?;
        }
        Ok(())
    }

    /// Sends the held status rows to be copied in key order.
    async fn release(&self, held: &mut Held) -> Result<(), ProjectionError> {
        if held.batches.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut held.batches);
        held.rows = 0;
        Self::send(&self.status, Write::SortedStatus(batches)).await
    }

    /// Ends the first pass: the held status rows become copy jobs of `queue`, both writers say
    /// when their entity rows are in, then both run the queue's jobs.
    async fn finish_load(
        &self,
        held: &mut Held,
        queue: Arc<IndexQueue>,
    ) -> Result<(), ProjectionError> {
        queue.add_status_copies(std::mem::take(&mut held.batches));
        held.rows = 0;
        for writer in [&self.entities, &self.status] {
            Self::send(writer, Write::EntitiesLoaded(queue.clone())).await?;
            Self::send(writer, Write::Index(queue.clone())).await?;
        }
        Ok(())
    }

    /// Waits until every batch sent so far is written.
    async fn sync(&self) -> Result<(), ProjectionError> {
        for sender in [&self.entities, &self.status] {
            let (ack, done) = oneshot::channel();
            Self::send(sender, Write::Sync(ack)).await?;
            done.await.map_err(|_| stopped())?;
        }
        Ok(())
    }
}

/// Status rows of the first pass not written yet.
#[derive(Default)]
struct Held {
    batches: Vec<crate::Batch>,
    rows: usize,
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
    fn new(statements: &[IndexStatement], writers: usize) -> Arc<Self> {
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
    fn add_status_copies(&self, held: Vec<crate::Batch>) {
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
    fn entities_loaded(&self) {
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
    fn all_reached(&self) {
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

    fn handed_over(&self) -> bool {
        self.lock().handed_over
    }

    fn abandon(&self) {
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
    async fn run(&self, conn: &mut PgConnection, tables: &Tables) -> Result<(), ProjectionError> {
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

/// The state of one rebuild or verify.
pub(crate) struct Engine {
    pub pool: PgPool,
    pub options: Options,
    pub schema: &'static str,
    pub aside: Tables,
    pub pairs: Vec<TablePair>,
    /// Every key, index and foreign key of the live tables, for the aside ones.
    indexes: Vec<IndexStatement>,
    pub fold: Fold,
    pub cursor: Cursor,
    /// Events folded so far.
    pub events: u64,
    pub started: Instant,
    /// Holds the maintenance lock for as long as the engine lives; writes entity rows.
    pub writer: Option<PgConnection>,
    /// Writes status history and feed rows.
    status_writer: Option<PgConnection>,
    reader: Option<PgConnection>,
    /// Whether the aside tables have their constraints and indexes. Until then entity rows are
    /// written with plain inserts, each entity at most once (see [`WriteMode::Load`]).
    indexed: bool,
}

fn detach(conn: PoolConnection<Postgres>) -> PgConnection {
    // Detached connections close when dropped: the session advisory lock and session settings
    // never leak back into the pool, even when a rebuild fails half-way.
    conn.detach()
}

fn is_lock_timeout(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Session settings of a connection that writes aside tables and builds their indexes. The
/// aside tables are worthless until the swap (which commits synchronously), so their writes
/// need not wait for the WAL flush; the two connections build indexes side by side, so each
/// sorts in memory of its own and without parallel workers (which would only compete with the
/// other connection for the same cores).
async fn writer_settings(conn: &mut PgConnection, options: &Options) -> Result<(), sqlx::Error> {
    for setting in [
        "SET synchronous_commit = off".to_string(),
        format!(
            "SET maintenance_work_mem = '{}MB'",
            options.index_memory_mib.max(1)
        ),
        "SET max_parallel_maintenance_workers = 0".to_string(),
    ] {
        sqlx::query(&setting).execute(&mut *conn).await?;
    }
    Ok(())
}

impl Engine {
    /// Takes the maintenance lock and creates the aside tables (empty, unindexed) in `schema`.
    pub async fn start(
        pool: &PgPool,
        schema: &'static str,
        unlogged: bool,
        options: Options,
    ) -> Result<Engine, ProjectionError> {
        let started = Instant::now();
        let mut writer = detach(pool.acquire().await?);
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(MAINTENANCE_LOCK)
            .fetch_one(&mut writer)
            .await?;
        if !locked {
            return Err(ProjectionError::Busy);
        }
        let mut status_writer = detach(pool.acquire().await?);
        let reader = detach(pool.acquire().await?);
        for conn in [&mut writer, &mut status_writer] {
            writer_settings(conn, &options).await?;
        }
        let pairs = create_aside(&mut writer, schema, unlogged).await?;
        let indexes = index_statements(&mut writer, &pairs).await?;
        Ok(Engine {
            pool: pool.clone(),
            options,
            schema,
            aside: Tables::in_schema(schema),
            pairs,
            indexes,
            fold: Fold::from_empty(),
            cursor: Cursor::default(),
            events: 0,
            started,
            writer: Some(writer),
            status_writer: Some(status_writer),
            reader: Some(reader),
            indexed: false,
        })
    }

    fn mode(&self) -> WriteMode {
        if self.indexed {
            WriteMode::Upsert
        } else {
            WriteMode::Load
        }
    }

    /// Catch-up passes until a pass reads little. The first pass loads unindexed tables and
    /// ends by building their keys and indexes in bulk, far cheaper than maintaining them row
    /// by row (and required by the upserts of later passes).
    pub async fn catch_up(&mut self) -> Result<(), ProjectionError> {
        for _ in 0..MAX_PASSES {
            let read = self.pass().await?;
            self.ensure_indexed().await?;
            // Entities that changed after their row was copied in: now they can be upserted.
            let late = self.fold.take_batch(true)?;
            if !late.is_empty() {
                let t = Instant::now();
                let rows = late.len();
                let writer = self.writer.as_mut().ok_or_else(gone)?;
                late.write(writer, &self.aside, WriteMode::Upsert).await?;
                tracing::debug!(rows, ms = millis(t), "projections: late rows upserted");
            }
            if read < CLOSE_ENOUGH {
                break;
            }
        }
        Ok(())
    }

    /// Builds whatever constraints and indexes the aside tables still lack (all of them, when
    /// the first pass did not; the foreign keys, which come last, otherwise) on the two writer
    /// connections.
    async fn ensure_indexed(&mut self) -> Result<(), ProjectionError> {
        let foreign = self.indexes.iter().any(|s| s.foreign);
        if self.indexed && !foreign {
            return Ok(());
        }
        let t = Instant::now();
        let a = self.writer.as_mut().ok_or_else(gone)?;
        let b = self.status_writer.as_mut().ok_or_else(gone)?;
        if self.indexed {
            for statement in self.indexes.iter().filter(|s| s.foreign) {
                sqlx::query(&statement.sql).execute(&mut *a).await?;
            }
        } else {
            add_indexes([a, b], &self.indexes, &self.aside).await?;
            self.indexed = true;
        }
        // Built once.
        self.indexes.retain(|s| !s.foreign);
        tracing::info!(
            schema = self.schema,
            ms = millis(t),
            "projections: indexes built"
        );
        Ok(())
    }

    /// One catch-up pass; returns the number of events read. The first pass (into tables
    /// without keys) also builds the keys and indexes at its end.
    async fn pass(&mut self) -> Result<u64, ProjectionError> {
        let t = Instant::now();
        let mut reader = self.reader.take().ok_or_else(gone)?;
        let writer = self.writer.take().ok_or_else(gone)?;
        let status_writer = self.status_writer.take().ok_or_else(gone)?;
        let horizon: String =
            sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
                .fetch_one(&mut reader)
                .await?;
        let horizon: u64 = horizon
            .parse()
            .map_err(|_| ProjectionError::Schema(format!("horizon {horizon} is not an xid8")))?;
        let (event_tx, mut event_rx) = mpsc::channel::<LogChunk>(8);
        let (spent_tx, spent_rx) = mpsc::unbounded_channel::<LogChunk>();
        let (entities, entity_rx) = mpsc::channel::<Write>(2);
        let (status, status_rx) = mpsc::channel::<Write>(4);
        let queue = (!self.indexed).then(|| IndexQueue::new(&self.indexes, 2));
        // Once the log is read, the reader's connection helps with the end of the first pass.
        let read_task = tokio::spawn(read_then_help(
            stream_log(reader, self.cursor, horizon, event_tx, spent_rx),
            queue.clone(),
            self.options.clone(),
            self.aside.clone(),
        ));
        let entity_task = tokio::spawn(write_rows(writer, self.aside.clone(), "first", entity_rx));
        let status_task = tokio::spawn(write_rows(
            status_writer,
            self.aside.clone(),
            "second",
            status_rx,
        ));

        let writers = Writers {
            entities,
            status,
            turn: std::sync::atomic::AtomicBool::new(false),
        };
        let folded = self
            .fold_stream(&mut event_rx, &spent_tx, &writers, queue.clone())
            .await;
        drop(writers);
        drop(event_rx);
        if let Some(queue) = &queue {
            if !queue.handed_over() {
                // The fold failed, or built the indexes itself (evictions): nobody will
                // complete the queue's stages, so nobody may wait for them.
                queue.abandon();
            }
        }
        // When one connection fails, the others must not wait for its tables.
        let watch = |task: tokio::task::JoinHandle<Result<PgConnection, ProjectionError>>| {
            let queue = queue.clone();
            async move {
                let result = task
                    .await
                    .map_err(|e| ProjectionError::Task(e.to_string()))
                    .and_then(|r| r);
                if result.is_err() {
                    if let Some(queue) = &queue {
                        queue.abandon();
                    }
                }
                result
            }
        };
        let (writer, status_writer, reader) =
            tokio::join!(watch(entity_task), watch(status_task), watch(read_task));
        // A writer's own error explains a fold that stopped because the writer went away.
        self.writer = Some(writer?);
        self.status_writer = Some(status_writer?);
        let read = folded?;
        self.reader = Some(reader?);
        if queue.is_some() {
            // Built at the end of this pass, but for the foreign keys.
            self.indexed = true;
        }
        tracing::info!(
            schema = self.schema,
            read,
            total = self.events,
            ms = millis(t),
            "projections: catch-up pass done"
        );
        Ok(read)
    }

    async fn fold_stream(
        &mut self,
        events: &mut mpsc::Receiver<LogChunk>,
        spent: &mpsc::UnboundedSender<LogChunk>,
        writers: &Writers,
        queue: Option<Arc<IndexQueue>>,
    ) -> Result<u64, ProjectionError> {
        let mut read = 0u64;
        let mut held = Held::default();
        let hold = self.options.held_status_rows;
        let (mut wait_read, mut wait_write, mut busy) =
            (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        loop {
            let t = Instant::now();
            let Some(chunk) = events.recv().await else {
                break;
            };
            wait_read += t.elapsed();
            let t = Instant::now();
            {
                let refs = chunk.refs()?;
                if self.fold.needs_loads() {
                    // States that were evicted are read back from the aside tables, so every
                    // earlier batch must be written first.
                    writers.sync().await?;
                    let mut conn = self.pool.acquire().await?;
                    self.fold.load(&mut conn, &self.aside, &refs).await?;
                }
                for event in &refs {
                    self.fold.apply(event)?;
                }
            }
            if let Some(last) = chunk.last_cursor() {
                self.cursor = last;
            }
            read += chunk.len() as u64;
            self.events += chunk.len() as u64;
            // Back to the reader, to be filled again.
            let _ = spent.send(chunk);
            busy += t.elapsed();
            let t = Instant::now();
            if self.fold.entities_in_memory() >= self.options.cache_entities {
                // Evicted entities may come back and be written again: that takes upserts, so
                // the tables need their keys first.
                if !self.indexed {
                    writers.release(&mut held).await?;
                    writers.sync().await?;
                    let mut a = self.pool.acquire().await?;
                    let mut b = self.pool.acquire().await?;
                    for conn in [&mut *a, &mut *b] {
                        writer_settings(conn, &self.options).await?;
                    }
                    add_indexes([&mut a, &mut b], &self.indexes, &self.aside).await?;
                    for conn in [&mut *a, &mut *b] {
                        sqlx::query("RESET ALL").execute(conn).await?;
                    }
                    self.indexes.retain(|s| !s.foreign);
                    self.indexed = true;
                }
                writers
                    .rows(self.fold.take_batch(true)?, self.mode())
                    .await?;
                self.fold.evict();
            } else if !self.indexed
                && self.fold.dirty_unwritten_entities() >= self.options.copy_entities
            {
                let batch = self.fold.take_loadable_batch()?;
                writers.load_holding_status(batch, &mut held, hold).await?;
            } else if self.fold.pending_status_rows() >= STATUS_FLUSH {
                let batch = self.fold.take_batch(false)?;
                if self.indexed {
                    writers.rows(batch, WriteMode::Upsert).await?;
                } else {
                    writers.load_holding_status(batch, &mut held, hold).await?;
                }
            }
            wait_write += t.elapsed();
        }
        tracing::debug!(?wait_read, ?wait_write, ?busy, "projections: fold loop");
        if self.indexed {
            writers
                .rows(self.fold.take_batch(true)?, WriteMode::Upsert)
                .await?;
        } else {
            // Without keys, an entity whose row was copied in already waits for the upsert that
            // follows the index build (`catch_up`).
            let rest = self.fold.take_loadable_batch()?;
            writers.load_holding_status(rest, &mut held, hold).await?;
            match queue {
                Some(queue) => writers.finish_load(&mut held, queue).await?,
                None => writers.release(&mut held).await?,
            }
        }
        Ok(read)
    }

    /// Folds every event after the cursor, with no horizon, into the aside tables through `conn`
    /// (the caller's transaction, which holds the lock or a snapshot taken under it).
    pub async fn fold_rest(&mut self, conn: &mut PgConnection) -> Result<u64, ProjectionError> {
        if !self.indexed {
            return Err(ProjectionError::Task(
                "the rest of the log was folded before a catch-up pass".into(),
            ));
        }
        let sql = log_query(false, true);
        let mut read = 0u64;
        loop {
            let rows: Vec<LogRow> = sqlx::query_as(&sql)
                .bind(self.cursor.tx_id.to_string())
                .bind(self.cursor.position)
                .bind(REST_PAGE)
                .fetch_all(&mut *conn)
                .await?;
            let page = rows.len();
            let events = rows
                .into_iter()
                .map(LogEvent::from_row)
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<EventRef<'_>> = events.iter().map(LogEvent::as_ref).collect();
            self.fold.load(conn, &self.aside, &refs).await?;
            for event in &refs {
                self.fold.apply(event)?;
            }
            if let Some(last) = events.last() {
                self.cursor = last.cursor;
            }
            read += page as u64;
            if (page as i64) < REST_PAGE {
                break;
            }
        }
        self.events += read;
        self.fold
            .take_batch(true)?
            .write(conn, &self.aside, WriteMode::Upsert)
            .await?;
        Ok(read)
    }

    /// Drops the projection tables in `schema`, then the schema, sharing the drops between the
    /// two writer connections (dropping a large table is mostly the kernel freeing its files).
    pub async fn drop_tables(&mut self, schema: &str) -> Result<(), ProjectionError> {
        let a = self.writer.as_mut().ok_or_else(gone)?;
        let b = self.status_writer.as_mut().ok_or_else(gone)?;
        let tables = Tables::in_schema(schema);
        // About half the bytes on each: entity tables on one, status tables and approvals on
        // the other.
        let (x, y) = tokio::join!(
            drop_tables(
                a,
                &tables,
                &[
                    "service_requests",
                    "merge_requests",
                    "device_dispenses",
                    "care_plan_activities"
                ]
            ),
            drop_tables(
                b,
                &tables,
                &["status_history", "approvals", "status_change_events"]
            )
        );
        x?;
        y?;
        let a = self.writer.as_mut().ok_or_else(gone)?;
        drop_schema(a, schema).await
    }

    /// Drops the aside schema (what a verify, or a failed rebuild, leaves).
    pub async fn drop_aside(&mut self) -> Result<(), ProjectionError> {
        let writer = self.writer.as_mut().ok_or_else(gone)?;
        drop_schema(writer, self.schema).await
    }

    /// Frees the entity states on a thread of their own: freeing hundreds of thousands of small
    /// allocations takes longer than the whole swap, and nobody needs to wait for it (a command
    /// that exits does not).
    pub fn release_states(&mut self) {
        let fold = std::mem::replace(&mut self.fold, Fold::from_empty());
        std::thread::spawn(move || drop(fold));
    }
}

fn gone() -> ProjectionError {
    ProjectionError::Task("a connection was lost by an earlier failure".into())
}

/// Sets the final step's lock timeout and takes `LOCK TABLE events IN EXCLUSIVE MODE`, then an
/// ACCESS EXCLUSIVE lock on `exclusive` tables. `Ok(false)` when a lock was not granted in time:
/// the transaction is then aborted and must be rolled back.
pub(crate) async fn lock_log(
    conn: &mut PgConnection,
    timeout: Duration,
    exclusive: &[String],
) -> Result<bool, ProjectionError> {
    sqlx::query(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        timeout.as_millis().max(1)
    ))
    .execute(&mut *conn)
    .await?;
    let mut statements = vec!["LOCK TABLE events IN EXCLUSIVE MODE".to_string()];
    if !exclusive.is_empty() {
        statements.push(format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            exclusive.join(", ")
        ));
    }
    for statement in statements {
        match sqlx::query(&statement).execute(&mut *conn).await {
            Ok(_) => {}
            Err(err) if is_lock_timeout(&err) => return Ok(false),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(true)
}

/// The swap's locks that do not hold appends, taken first: ACCESS EXCLUSIVE on the aside tables
/// (nobody else uses them) and SHARE UPDATE EXCLUSIVE on the live ones and on `events`, which
/// keeps autovacuum off them (a running autovacuum is cancelled after `deadlock_timeout`) while
/// appends and reads go on. The locks that hold appends ([`lock_log`]) then wait only for appends
/// and reads in flight. Without `events` here, an autovacuum of the log (frequent while it grows)
/// made `LOCK TABLE events IN EXCLUSIVE MODE` wait for its cancellation, and every append queued
/// behind that request: appends were held for 1 s (`deadlock_timeout`) instead of milliseconds.
/// `Ok(false)` when a lock was not granted in time: the transaction must be rolled back.
pub(crate) async fn prepare_swap(
    conn: &mut PgConnection,
    timeout: Duration,
    pairs: &[TablePair],
) -> Result<bool, ProjectionError> {
    sqlx::query(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        timeout.as_millis().max(1)
    ))
    .execute(&mut *conn)
    .await?;
    let aside: Vec<&str> = pairs.iter().map(|p| p.aside.as_str()).collect();
    let live: Vec<&str> = pairs.iter().map(|p| p.live.as_str()).collect();
    for statement in [
        format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", aside.join(", ")),
        format!(
            "LOCK TABLE events, {} IN SHARE UPDATE EXCLUSIVE MODE",
            live.join(", ")
        ),
    ] {
        match sqlx::query(&statement).execute(&mut *conn).await {
            Ok(_) => {}
            Err(err) if is_lock_timeout(&err) => return Ok(false),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(true)
}

/// The catch-up read: the events after `after` and below `horizon`, in the feed's order, as one
/// binary `COPY (SELECT …) TO STDOUT` (no per-row protocol or decoding overhead; the values are
/// inlined numbers, as COPY takes no parameters).
fn copy_log_query(after: Cursor, horizon: u64) -> String {
    format!(
        "COPY (SELECT tx_id, global_position, aggregate_type, aggregate_id, sequence, \
         payload::text, metadata->>'user_id', recorded_at FROM events \
         WHERE (tx_id, global_position) > ('{}'::xid8, {}) AND tx_id < '{}'::xid8 \
         ORDER BY events.tx_id, events.global_position) TO STDOUT (FORMAT binary)",
        after.tx_id, after.position, horizon
    )
}

/// Events handed from the reader to the fold at a time: their rows as the binary COPY sent them,
/// and where each value is.
pub(crate) struct LogChunk {
    data: Vec<u8>,
    events: Vec<RawEvent>,
}

/// One event of a [`LogChunk`]: fixed-size values decoded, text values as ranges of its data.
struct RawEvent {
    cursor: Cursor,
    aggregate_type: (u32, u32),
    aggregate_id: (u32, u32),
    sequence: i64,
    payload: (u32, u32),
    /// The payload deserialized by the reader into its aggregate's event type, so the fold
    /// only applies it.
    decoded: Decoded,
    user_id: Option<Uuid>,
    recorded_at: DateTime<Utc>,
}

/// Deserializes a payload into the event type of `aggregate_type`, as the fold would (`None`
/// when it cannot: the fold then reads the text itself and reports why).
fn predecode(aggregate_type: &[u8], payload: &[u8]) -> Option<Box<dyn Any + Send>> {
    fn typed<A: Aggregate>(payload: &str) -> Option<Box<dyn Any + Send>>
    where
        A::Event: 'static,
    {
        serde_json::from_str::<A::Event>(payload)
            .ok()
            .map(|event| Box::new(event) as Box<dyn Any + Send>)
    }
    let payload = std::str::from_utf8(payload).ok()?;
    match aggregate_type {
        b"ServiceRequest" => typed::<ServiceRequest>(payload),
        b"MergeRequest" => typed::<MergeRequest>(payload),
        b"DeviceDispense" => typed::<DeviceDispense>(payload),
        b"Approval" => typed::<Approval>(payload),
        b"CarePlanActivity" => typed::<CarePlanActivity>(payload),
        _ => None,
    }
}

fn text(data: &[u8], (start, end): (u32, u32)) -> Result<&str, ProjectionError> {
    std::str::from_utf8(&data[start as usize..end as usize])
        .map_err(|e| ProjectionError::Schema(format!("an event's text is not UTF-8: {e}")))
}

impl LogChunk {
    fn new() -> Self {
        Self {
            data: Vec::with_capacity(READ_CHUNK * 1024),
            events: Vec::with_capacity(READ_CHUNK),
        }
    }

    fn len(&self) -> usize {
        self.events.len()
    }

    fn last_cursor(&self) -> Option<Cursor> {
        self.events.last().map(|e| e.cursor)
    }

    /// The events as the fold takes them.
    fn refs(&self) -> Result<Vec<EventRef<'_>>, ProjectionError> {
        self.events
            .iter()
            .map(|e| {
                Ok(EventRef {
                    aggregate_type: text(&self.data, e.aggregate_type)?,
                    aggregate_id: text(&self.data, e.aggregate_id)?,
                    sequence: e.sequence,
                    global_position: e.cursor.position,
                    payload: Payload::Decoded(&e.decoded, text(&self.data, e.payload)?),
                    user_id: e.user_id,
                    recorded_at: e.recorded_at,
                })
            })
            .collect()
    }

    /// Appends the tuple at the start of `buf` if it is complete: `Ok(Some(its length))`,
    /// `Ok(None)` when more bytes are needed.
    fn push_tuple(&mut self, buf: &[u8]) -> Result<Option<usize>, ProjectionError> {
        let bad = |what: &str| ProjectionError::Schema(format!("unexpected COPY data: {what}"));
        let mut at = 2usize;
        let Some(count) = buf.get(..2) else {
            return Ok(None);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        if count != 8 {
            return Err(bad(&format!("{count} fields in a row")));
        }
        let mut fields = [None::<(usize, usize)>; 8];
        for field in &mut fields {
            let Some(len) = buf.get(at..at + 4) else {
                return Ok(None);
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            if len >= 0 {
                let end = at + len as usize;
                if buf.len() < end {
                    return Ok(None);
                }
                *field = Some((at, end));
                at = end;
            }
        }
        let int8 = |f: Option<(usize, usize)>, name: &str| -> Result<i64, ProjectionError> {
            let (start, end) = f.ok_or_else(|| bad(&format!("{name} is null")))?;
            let bytes: [u8; 8] = buf[start..end]
                .try_into()
                .map_err(|_| bad(&format!("{name} is not 8 bytes")))?;
            Ok(i64::from_be_bytes(bytes))
        };
        let base = self.data.len();
        let range =
            |f: Option<(usize, usize)>, name: &str| -> Result<(u32, u32), ProjectionError> {
                let (start, end) = f.ok_or_else(|| bad(&format!("{name} is null")))?;
                Ok(((base + start) as u32, (base + end) as u32))
            };
        let tx_id = int8(fields[0], "tx_id")? as u64;
        let position = int8(fields[1], "global_position")?;
        let aggregate_type = range(fields[2], "aggregate_type")?;
        let aggregate_id = range(fields[3], "aggregate_id")?;
        let sequence = int8(fields[4], "sequence")?;
        let payload = range(fields[5], "payload")?;
        let user_id = fields[6]
            .and_then(|(start, end)| std::str::from_utf8(&buf[start..end]).ok())
            .and_then(|u| Uuid::parse_str(u).ok());
        // Microseconds since 2000-01-01, as sqlx decodes a timestamptz.
        let micros = int8(fields[7], "recorded_at")?;
        let recorded_at = DateTime::<Utc>::from_timestamp_micros(micros + 946_684_800_000_000)
            .ok_or_else(|| bad("recorded_at is out of range"))?;
        let slice = |(start, end): (u32, u32)| &buf[start as usize - base..end as usize - base];
        let decoded = Decoded::new(predecode(slice(aggregate_type), slice(payload)));
        self.data.extend_from_slice(&buf[..at]);
        self.events.push(RawEvent {
            cursor: Cursor { tx_id, position },
            aggregate_type,
            aggregate_id,
            sequence,
            payload,
            decoded,
            user_id,
            recorded_at,
        });
        Ok(Some(at))
    }
}

/// The header of a binary COPY: its length once complete.
fn copy_header(buf: &[u8]) -> Result<Option<usize>, ProjectionError> {
    const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
    if buf.len() < SIGNATURE.len() + 8 {
        return Ok(None);
    }
    if &buf[..SIGNATURE.len()] != SIGNATURE {
        return Err(ProjectionError::Schema("not a binary COPY stream".into()));
    }
    let ext = &buf[SIGNATURE.len() + 4..SIGNATURE.len() + 8];
    let len = SIGNATURE.len() + 8 + u32::from_be_bytes([ext[0], ext[1], ext[2], ext[3]]) as usize;
    Ok((buf.len() >= len).then_some(len))
}

/// Runs the read; then, at the end of a first pass, the end-of-pass jobs (see [`IndexQueue`]) on
/// the reader's connection too, beside the two writers'.
async fn read_then_help(
    read: impl std::future::Future<Output = Result<PgConnection, ProjectionError>>,
    queue: Option<Arc<IndexQueue>>,
    options: Options,
    tables: Tables,
) -> Result<PgConnection, ProjectionError> {
    let mut conn = read.await?;
    if let Some(queue) = queue {
        writer_settings(&mut conn, &options).await?;
        queue.run(&mut conn, &tables).await?;
        tracing::debug!(writer = "reader", "projections: jobs done");
    }
    Ok(conn)
}

/// Streams the log (see [`copy_log_query`]) to the fold in chunks; the fold hands the chunks back
/// through `spent`, so their buffers are reused instead of allocated anew.
async fn stream_log(
    mut conn: PgConnection,
    after: Cursor,
    horizon: u64,
    events: mpsc::Sender<LogChunk>,
    mut spent: mpsc::UnboundedReceiver<LogChunk>,
) -> Result<PgConnection, ProjectionError> {
    // A read-only transaction: it never gets a transaction id, so it does not hold back the
    // feed's horizon. The plan must walk the feed index, never sort the whole log.
    sqlx::query("BEGIN READ ONLY").execute(&mut conn).await?;
    sqlx::query("SET LOCAL enable_sort = off")
        .execute(&mut conn)
        .await?;
    sqlx::query("SET LOCAL jit = off")
        .execute(&mut conn)
        .await?;
    {
        let mut rows = conn.copy_out_raw(&copy_log_query(after, horizon)).await?;
        let mut header = false;
        let mut done = false;
        // Bytes of a tuple (or of the header) split over more than one message.
        let mut partial: Vec<u8> = Vec::new();
        let mut chunk = LogChunk::new();
        let mut blocked = Duration::ZERO;
        while let Some(message) = rows.try_next().await? {
            let mut buf: &[u8] = &message;
            if !partial.is_empty() {
                partial.extend_from_slice(buf);
                buf = &[];
            }
            let mut from_partial = !partial.is_empty();
            loop {
                let input: &[u8] = if from_partial { &partial } else { buf };
                if input.is_empty() {
                    break;
                }
                let used = if !header {
                    let used = copy_header(input)?;
                    header = used.is_some();
                    used
                } else if input.len() >= 2 && input[..2] == (-1i16).to_be_bytes() {
                    done = true;
                    Some(2)
                } else {
                    chunk.push_tuple(input)?
                };
                let Some(used) = used else {
                    if !from_partial {
                        partial.extend_from_slice(buf);
                    }
                    break;
                };
                if from_partial {
                    partial.drain(..used);
                    from_partial = !partial.is_empty();
                } else {
                    buf = &buf[used..];
                }
                if chunk.len() == READ_CHUNK {
                    let next = match spent.try_recv() {
                        Ok(mut reused) => {
                            reused.data.clear();
                            reused.events.clear();
                            reused
                        }
                        Err(_) => LogChunk::new(),
                    };
                    let full = std::mem::replace(&mut chunk, next);
                    let t = Instant::now();
                    let sent = events.send(full).await;
                    blocked += t.elapsed();
                    if sent.is_err() {
                        // The fold stopped and says why; this connection is mid-COPY and is
                        // dropped with the failed rebuild.
                        return Err(ProjectionError::Task("the fold stopped reading".into()));
                    }
                }
            }
        }
        if !done {
            return Err(ProjectionError::Schema(
                "the COPY of the log ended early".into(),
            ));
        }
        tracing::debug!(?blocked, "projections: log read");
        if chunk.len() > 0 && events.send(chunk).await.is_err() {
            return Err(ProjectionError::Task("the fold stopped reading".into()));
        }
    }
    sqlx::query("ROLLBACK").execute(&mut conn).await?;
    Ok(conn)
}

async fn write_rows(
    mut conn: PgConnection,
    tables: Tables,
    writer: &'static str,
    mut writes: mpsc::Receiver<Write>,
) -> Result<PgConnection, ProjectionError> {
    let (mut idle, mut rows) = (Duration::ZERO, Duration::ZERO);
    loop {
        let t = Instant::now();
        let Some(write) = writes.recv().await else {
            break;
        };
        idle += t.elapsed();
        match write {
            Write::Rows(batch, mode) => {
                let t = Instant::now();
                batch.write(&mut conn, &tables, mode).await?;
                rows += t.elapsed();
            }
            Write::SortedStatus(batches) => {
                crate::Batch::copy_history_sorted(&batches, &mut conn, &tables).await?;
                crate::Batch::copy_feed_sorted(&batches, &mut conn, &tables).await?;
            }
            Write::EntitiesLoaded(queue) => {
                tracing::debug!(writer, "projections: entity rows written");
                queue.entities_loaded();
            }
            Write::Index(queue) => {
                queue.run(&mut conn, &tables).await?;
                tracing::debug!(writer, "projections: jobs done");
            }
            Write::Sync(ack) => {
                let _ = ack.send(());
            }
        }
    }
    tracing::debug!(writer, ?idle, ?rows, "projections: writer");
    Ok(conn)
}

async fn drop_tables(
    conn: &mut PgConnection,
    tables: &Tables,
    names: &[&str],
) -> Result<(), ProjectionError> {
    for name in names {
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", tables.name(name)))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(crate) async fn drop_schema(
    conn: &mut PgConnection,
    schema: &str,
) -> Result<(), ProjectionError> {
    sqlx::query(&format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        quote_ident(schema)
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// A table's storage parameters as `name=value` (none: empty).
async fn reloptions(
    conn: &mut PgConnection,
    relation: &str,
    toast: bool,
) -> Result<Vec<String>, ProjectionError> {
    let sql = if toast {
        "SELECT coalesce(t.reloptions, '{}')::text[] FROM pg_class c \
         JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = $1::regclass"
    } else {
        "SELECT coalesce(reloptions, '{}')::text[] FROM pg_class WHERE oid = $1::regclass"
    };
    let found: Option<Vec<String>> = sqlx::query_scalar(sql)
        .bind(relation)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.unwrap_or_default())
}

/// `SET (…)` items for storage parameters `name=value`, prefixed (`toast.`), values quoted.
fn option_items(options: &[String], prefix: &str) -> Vec<String> {
    options
        .iter()
        .filter_map(|o| o.split_once('='))
        .map(|(name, value)| {
            format!(
                "{prefix}{} = '{}'",
                quote_ident(name),
                value.replace('\'', "''")
            )
        })
        .collect()
}

/// Creates `schema` afresh with an empty twin of every projection table: columns, defaults,
/// checks, comments and storage, but no index or key yet, and autovacuum off: nothing reads
/// them before the swap, and an autovacuum of a freshly loaded table would compete with the
/// build and hold up the swap until it is cancelled.
async fn create_aside(
    conn: &mut PgConnection,
    schema: &str,
    unlogged: bool,
) -> Result<Vec<TablePair>, ProjectionError> {
    // A schema left by a rebuild that died half-way is garbage: the advisory lock says nobody
    // else is using it.
    drop_schema(conn, schema).await?;
    sqlx::query(&format!("CREATE SCHEMA {}", quote_ident(schema)))
        .execute(&mut *conn)
        .await?;
    let mut pairs = Vec::new();
    for name in TABLES {
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT n.nspname::text, quote_ident(n.nspname) || '.' || quote_ident(c.relname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass($1)",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((live_schema, live)) = found else {
            return Err(ProjectionError::Schema(format!(
                "table {name} does not exist (run `ehealth-es migrate` first)"
            )));
        };
        let pair = TablePair {
            name,
            live_schema,
            reloptions: reloptions(conn, &live, false).await?,
            toast_reloptions: reloptions(conn, &live, true).await?,
            live,
            aside: Tables::in_schema(schema).name(name),
        };
        sqlx::query(&format!(
            "CREATE {}TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES) \
             WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)",
            if unlogged { "UNLOGGED " } else { "" },
            pair.aside,
            pair.live
        ))
        .execute(&mut *conn)
        .await?;
        pairs.push(pair);
    }
    Ok(pairs)
}

/// Gives an aside table the live table's storage parameters, autovacuum included (part of the
/// swap, so that autovacuum analyzes the new tables soon after).
pub(crate) async fn restore_options(
    conn: &mut PgConnection,
    pair: &TablePair,
) -> Result<(), ProjectionError> {
    sqlx::query(&format!(
        "ALTER TABLE {} RESET (autovacuum_enabled, toast.autovacuum_enabled)",
        pair.aside
    ))
    .execute(&mut *conn)
    .await?;
    let mut items = option_items(&pair.reloptions, "");
    items.extend(option_items(&pair.toast_reloptions, "toast."));
    if !items.is_empty() {
        sqlx::query(&format!(
            "ALTER TABLE {} SET ({})",
            pair.aside,
            items.join(", ")
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The statements that re-create the live tables' keys (primary, unique, exclusion), indexes
/// and foreign keys on the aside tables, under the same names, so that after a swap nothing
/// tells them apart. Planner statistics are left to autovacuum, which analyzes the new tables
/// soon after the swap (their inserted rows count).
async fn index_statements(
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
async fn add_indexes(
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
