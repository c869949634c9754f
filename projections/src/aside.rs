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

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::rows::{quote_ident, Tables, WriteMode, TABLES};
use crate::{EventRef, Fold, Payload, ProjectionError};

/// Events handed from the reader to the fold at a time.
const READ_CHUNK: usize = 2_048;
/// History and feed rows gathered before they are sent to the writer.
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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cache_entities: 1_000_000,
            copy_entities: 5_000,
            lock_timeout: Duration::from_secs(2),
            lock_attempts: 10,
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
}

/// Messages to a writer task.
enum Write {
    Rows(Box<crate::Batch>, WriteMode),
    /// Answered once every earlier batch is written.
    Sync(oneshot::Sender<()>),
}

/// The two writer tasks of a pass: entity rows on one connection, status rows on the other, so
/// that PostgreSQL writes both on two cores.
struct Writers {
    entities: mpsc::Sender<Write>,
    status: mpsc::Sender<Write>,
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

/// The state of one rebuild or verify.
pub(crate) struct Engine {
    pub pool: PgPool,
    pub options: Options,
    pub schema: &'static str,
    pub aside: Tables,
    pub pairs: Vec<TablePair>,
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
            sqlx::query("SET synchronous_commit = off")
                .execute(&mut *conn)
                .await?;
        }
        let pairs = create_aside(&mut writer, schema, unlogged).await?;
        Ok(Engine {
            pool: pool.clone(),
            options,
            schema,
            aside: Tables::in_schema(schema),
            pairs,
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

    /// Catch-up passes until a pass reads little. The first pass loads unindexed tables; their
    /// keys and indexes are then built in bulk, far cheaper than maintaining them row by row
    /// (and required by the upserts of later passes).
    pub async fn catch_up(&mut self) -> Result<(), ProjectionError> {
        for _ in 0..MAX_PASSES {
            let read = self.pass().await?;
            self.ensure_indexed().await?;
            // Entities that changed after their row was copied in: now they can be upserted.
            let late = self.fold.take_batch(true)?;
            if !late.is_empty() {
                let writer = self.writer.as_mut().ok_or_else(gone)?;
                late.write(writer, &self.aside, WriteMode::Upsert).await?;
            }
            if read < CLOSE_ENOUGH {
                break;
            }
        }
        Ok(())
    }

    /// Builds the aside tables' constraints and indexes on the two writer connections.
    async fn ensure_indexed(&mut self) -> Result<(), ProjectionError> {
        if self.indexed {
            return Ok(());
        }
        let t = Instant::now();
        let a = self.writer.as_mut().ok_or_else(gone)?;
        let b = self.status_writer.as_mut().ok_or_else(gone)?;
        add_indexes([a, b], &self.pairs).await?;
        self.indexed = true;
        tracing::info!(
            schema = self.schema,
            ms = millis(t),
            "projections: indexes built"
        );
        Ok(())
    }

    /// One catch-up pass; returns the number of events read.
    async fn pass(&mut self) -> Result<u64, ProjectionError> {
        let t = Instant::now();
        let mut reader = self.reader.take().ok_or_else(gone)?;
        let writer = self.writer.take().ok_or_else(gone)?;
        let status_writer = self.status_writer.take().ok_or_else(gone)?;
        let horizon: String =
            sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
                .fetch_one(&mut reader)
                .await?;
        let (event_tx, mut event_rx) = mpsc::channel::<Vec<LogEvent>>(8);
        let (entities, entity_rx) = mpsc::channel::<Write>(2);
        let (status, status_rx) = mpsc::channel::<Write>(4);
        let read_task = tokio::spawn(stream_log(reader, self.cursor, horizon, event_tx));
        let entity_task = tokio::spawn(write_rows(writer, self.aside.clone(), entity_rx));
        let status_task = tokio::spawn(write_rows(status_writer, self.aside.clone(), status_rx));

        let writers = Writers { entities, status };
        let folded = self.fold_stream(&mut event_rx, &writers).await;
        drop(writers);
        drop(event_rx);
        let join = |r: Result<_, tokio::task::JoinError>| {
            r.map_err(|e| ProjectionError::Task(e.to_string()))
        };
        let reader = join(read_task.await);
        let writer = join(entity_task.await);
        let status_writer = join(status_task.await);
        // A writer's own error explains a fold that stopped because the writer went away.
        self.writer = Some(writer??);
        self.status_writer = Some(status_writer??);
        let read = folded?;
        self.reader = Some(reader??);
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
        events: &mut mpsc::Receiver<Vec<LogEvent>>,
        writers: &Writers,
    ) -> Result<u64, ProjectionError> {
        let mut read = 0u64;
        while let Some(chunk) = events.recv().await {
            let refs: Vec<EventRef<'_>> = chunk.iter().map(LogEvent::as_ref).collect();
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
            if let Some(last) = chunk.last() {
                self.cursor = last.cursor;
            }
            read += chunk.len() as u64;
            self.events += chunk.len() as u64;
            if self.fold.entities_in_memory() >= self.options.cache_entities {
                // Evicted entities may come back and be written again: that takes upserts, so
                // the tables need their keys first.
                if !self.indexed {
                    writers.sync().await?;
                    let mut a = self.pool.acquire().await?;
                    let mut b = self.pool.acquire().await?;
                    add_indexes([&mut a, &mut b], &self.pairs).await?;
                    self.indexed = true;
                }
                writers
                    .rows(self.fold.take_batch(true)?, self.mode())
                    .await?;
                self.fold.evict();
            } else if !self.indexed
                && self.fold.dirty_unwritten_entities() >= self.options.copy_entities
            {
                writers
                    .rows(self.fold.take_loadable_batch()?, WriteMode::Load)
                    .await?;
            } else if self.fold.pending_status_rows() >= STATUS_FLUSH {
                writers
                    .rows(self.fold.take_batch(false)?, self.mode())
                    .await?;
            }
        }
        // Without keys, an entity whose row was copied in already waits for the upsert that
        // follows the index build (`catch_up`).
        let rest = if self.indexed {
            self.fold.take_batch(true)?
        } else {
            self.fold.take_loadable_batch()?
        };
        writers.rows(rest, self.mode()).await?;
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

async fn stream_log(
    mut conn: PgConnection,
    after: Cursor,
    horizon: String,
    events: mpsc::Sender<Vec<LogEvent>>,
) -> Result<PgConnection, ProjectionError> {
    {
        // A read-only transaction: it never gets a transaction id, so it does not hold back the
        // feed's horizon. The plan must walk the feed index, never sort the whole log.
        let mut tx = conn.begin().await?;
        sqlx::query("SET LOCAL enable_sort = off")
            .execute(&mut *tx)
            .await?;
        sqlx::query("SET LOCAL jit = off").execute(&mut *tx).await?;
        let sql = log_query(true, false);
        let mut rows = sqlx::query_as::<_, LogRow>(&sql)
            .bind(after.tx_id.to_string())
            .bind(after.position)
            .bind(horizon)
            .fetch(&mut *tx);
        let mut chunk = Vec::with_capacity(READ_CHUNK);
        let mut open = true;
        while let Some(row) = rows.try_next().await? {
            chunk.push(LogEvent::from_row(row)?);
            if chunk.len() == READ_CHUNK {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(READ_CHUNK));
                if events.send(full).await.is_err() {
                    open = false;
                    break;
                }
            }
        }
        drop(rows);
        if open && !chunk.is_empty() {
            let _ = events.send(chunk).await;
        }
        tx.rollback().await?;
    }
    Ok(conn)
}

async fn write_rows(
    mut conn: PgConnection,
    tables: Tables,
    mut writes: mpsc::Receiver<Write>,
) -> Result<PgConnection, ProjectionError> {
    while let Some(write) = writes.recv().await {
        match write {
            Write::Rows(batch, mode) => batch.write(&mut conn, &tables, mode).await?,
            Write::Sync(ack) => {
                let _ = ack.send(());
            }
        }
    }
    Ok(conn)
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

/// Creates `schema` afresh with an empty twin of every projection table: columns, defaults,
/// checks, comments and storage, but no index or key yet.
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
            live,
            aside: Tables::in_schema(schema).name(name),
        };
        sqlx::query(&format!(
            "CREATE {}TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES)",
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

/// Re-creates the live tables' keys (primary, unique, exclusion), indexes and foreign keys on
/// the aside tables, under the same names, so that after a swap nothing tells them apart. The
/// statements are shared out between `conns`, which build at the same time. Planner statistics
/// are left to autovacuum, which analyzes the new tables soon after (their inserted rows count).
async fn add_indexes(
    conns: [&mut PgConnection; 2],
    pairs: &[TablePair],
) -> Result<(), ProjectionError> {
    let [first, second] = conns;
    let mut keys = Vec::new();
    let mut indexes = Vec::new();
    let mut foreign_keys = Vec::new();
    for pair in pairs {
        let constraints: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid), contype::text FROM pg_constraint \
             WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x', 'f') ORDER BY conname",
        )
        .bind(&pair.live)
        .fetch_all(&mut *first)
        .await?;
        for (constraint, definition, kind) in constraints {
            let statement = format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {definition}",
                pair.aside,
                quote_ident(&constraint)
            );
            if kind == "f" {
                foreign_keys.push(statement);
            } else {
                keys.push(statement);
            }
        }
        let plain: Vec<String> = sqlx::query_scalar(
            "SELECT pg_get_indexdef(ix.indexrelid) FROM pg_index ix \
             WHERE ix.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
               WHERE c.conindid = ix.indexrelid AND c.conrelid = ix.indrelid) \
             ORDER BY ix.indexrelid",
        )
        .bind(&pair.live)
        .fetch_all(&mut *first)
        .await?;
        for definition in plain {
            let on_live = format!(" ON {} ", pair.live);
            if definition.matches(&on_live).count() != 1 {
                return Err(ProjectionError::Schema(format!(
                    "cannot re-create index `{definition}` on {}",
                    pair.aside
                )));
            }
            indexes.push(definition.replacen(&on_live, &format!(" ON {} ", pair.aside), 1));
        }
    }
    // Keys first (a foreign key needs the referenced key), then the plain indexes; each phase
    // is shared between the two connections from one queue.
    for phase in [keys, indexes, foreign_keys] {
        let queue = std::sync::Mutex::new(phase.into_iter());
        let (a, b) = tokio::join!(
            run_queue(&mut *first, &queue),
            run_queue(&mut *second, &queue)
        );
        a?;
        b?;
    }
    Ok(())
}

/// Runs statements from a shared queue until it is empty.
async fn run_queue(
    conn: &mut PgConnection,
    queue: &std::sync::Mutex<std::vec::IntoIter<String>>,
) -> Result<(), ProjectionError> {
    loop {
        let next = queue.lock().ok().and_then(|mut q| q.next());
        let Some(statement) = next else {
            return Ok(());
        };
        sqlx::query(&statement).execute(&mut *conn).await?;
    }
}
