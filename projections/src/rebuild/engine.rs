//! The engine of a rebuild or verify: every projection built aside, from the event log, while the
//! service keeps appending.
//!
//! The aside tables live in their own schema and are created `LIKE` the live ones (columns,
//! defaults, checks, comments, storage; `swap`). Their keys, indexes and foreign keys are
//! re-created under the live names once the bulk of the rows is in (`indexes`), so that after a
//! swap nothing tells the tables apart.
//!
//! The log is read in the feed's order, `(tx_id, global_position)`, in passes (`log`). A catch-up
//! pass only reads events of transactions below `pg_snapshot_xmin(pg_current_snapshot())`: every
//! transaction that could still commit an event has an id at or above that horizon, so nothing can
//! later appear behind the cursor. Passes repeat until little is left; the rest is read by the
//! caller under `LOCK TABLE events IN EXCLUSIVE MODE` (appends wait, reads go on), with no horizon,
//! because no appending transaction can then be in flight. Each event is thus read exactly once;
//! the fold also refuses an event at or below an entity's applied version.
//!
//! The first pass loads tables without keys or indexes with binary `COPY`: every status row once,
//! every entity's row once (an entity that changes again after its row was copied stays dirty and
//! is upserted right after the keys are built). Building keys and indexes once over the loaded
//! rows costs a fraction of maintaining them row by row. Later passes and the rest upsert with
//! the live path's own statements.
//!
//! A pass is a pipeline: a reader task streams events, the calling task folds them in memory
//! ([`Fold`]), two writer tasks (`writers`) write entity rows and status rows on their own
//! connections, so PostgreSQL works on both cores. Writes commit statement by statement with
//! `synchronous_commit = off` (the aside tables are worthless until the swap, which commits
//! synchronously), in short transactions, so a rebuild never holds back the feed's horizon for
//! the other subscribers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::mpsc;

use super::decode::LogChunk;
use super::indexes::{add_indexes, index_statements, IndexQueue, IndexStatement};
use super::log::{log_query, read_then_help, stream_log, Cursor, LogEvent, LogRow};
use super::options::Options;
use super::swap::{create_aside, drop_schema, drop_tables, TablePair};
use super::writers::{write_rows, Held, Write, Writers};
use super::MAINTENANCE_LOCK;
use crate::rows::{Tables, WriteMode};
use crate::{EventRef, Fold, ProjectionError};

/// History and feed rows gathered before they are sent to the writer (once the tables have keys).
const STATUS_FLUSH: usize = 20_000;
/// Events read per statement under the lock.
const REST_PAGE: i64 = 10_000;
/// A catch-up pass that read fewer events than this is close enough to take the lock.
const CLOSE_ENOUGH: u64 = 2_000;
const MAX_PASSES: usize = 20;

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

pub(super) fn millis(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

/// Session settings of a connection that writes aside tables and builds their indexes. The
/// aside tables are worthless until the swap (which commits synchronously), so their writes
/// need not wait for the WAL flush; the two connections build indexes side by side, so each
/// sorts in memory of its own and without parallel workers (which would only compete with the
/// other connection for the same cores).
pub(super) async fn writer_settings(
    conn: &mut PgConnection,
    options: &Options,
) -> Result<(), sqlx::Error> {
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
    pub(crate) async fn start(
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
    pub(crate) async fn catch_up(&mut self) -> Result<(), ProjectionError> {
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
    pub(crate) async fn fold_rest(
        &mut self,
        conn: &mut PgConnection,
    ) -> Result<u64, ProjectionError> {
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
    pub(crate) async fn drop_tables(&mut self, schema: &str) -> Result<(), ProjectionError> {
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
    pub(crate) async fn drop_aside(&mut self) -> Result<(), ProjectionError> {
        let writer = self.writer.as_mut().ok_or_else(gone)?;
        drop_schema(writer, self.schema).await
    }

    /// Frees the entity states on a thread of their own: freeing hundreds of thousands of small
    /// allocations takes longer than the whole swap, and nobody needs to wait for it (a command
    /// that exits does not).
    pub(crate) fn release_states(&mut self) {
        let fold = std::mem::replace(&mut self.fold, Fold::from_empty());
        std::thread::spawn(move || drop(fold));
    }
}

fn gone() -> ProjectionError {
    ProjectionError::Task("a connection was lost by an earlier failure".into())
}
