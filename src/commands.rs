//! The command bus: one cqrs-es framework per aggregate over our event repository, with bounded
//! retries on optimistic-lock conflicts, run in a spawned task so that a client that disconnects
//! can never leave a connection inside an open transaction.
//!
//! Every command runs in a `command` span (aggregate type, entity id, command id, correlation id)
//! inside the span of the request or worker pass that sent it, so its log lines can be followed
//! back to both.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};
use rand::Rng;
use tokio::sync::Notify;
use tracing::Instrument;
use uuid::Uuid;

use crate::db::Db;
use crate::db_health::DbHealth;
use crate::metrics::Metrics;
use crate::store::event_store::{CachedEventStore, CACHED_STATES};
use crate::store::{
    CommandContext, CommitOutcome, DuplicateCommand, DuplicateJob, EventLog, EventRepository,
    OutcomeUnknown, Store, COMMAND_CONTEXT,
};

pub type Cqrs<A> = CqrsFramework<A, CachedEventStore<A>>;

/// How many times a command is tried when another writer appended to the same entity first.
/// Within one instance commands on one entity are serialized, so conflicts only come from other
/// instances.
pub const MAX_ATTEMPTS: u32 = 16;

/// Who asked for the command and through which request; copied onto every event it appends.
#[derive(Debug, Clone)]
pub struct CommandMeta {
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub request_id: String,
    pub command_id: String,
    pub correlation_id: String,
    pub causation_id: String,
    pub at: DateTime<Utc>,
    pub job_id: Option<String>,
}

impl CommandMeta {
    fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::from([
            ("user_id".to_string(), self.user_id.to_string()),
            ("client_id".to_string(), self.client_id.to_string()),
            ("request_id".to_string(), self.request_id.clone()),
            ("command_id".to_string(), self.command_id.clone()),
            ("correlation_id".to_string(), self.correlation_id.clone()),
            ("causation_id".to_string(), self.causation_id.clone()),
            ("time".to_string(), self.at.to_rfc3339()),
        ]);
        if let Some(job) = &self.job_id {
            map.insert("job_id".to_string(), job.clone());
        }
        map
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E> {
    #[error("{0}")]
    Rejected(E),
    #[error("the entity kept changing under concurrent writers")]
    Conflict,
    #[error("a command with this idempotency key was already processed")]
    DuplicateCommand,
    #[error("a job for the same command is still pending")]
    DuplicateJob,
    /// The database cannot be reached or cannot write now; nothing was committed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database did not answer in time while the commit was in flight: it may have committed.
    #[error("the outcome of the commit is unknown: {0}")]
    OutcomeUnknown(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Picks the framework of an aggregate type.
pub trait Routed: Aggregate<Services = ()> + Clone + 'static
where
    Self::Command: Clone + Send + Sync + 'static,
    Self::Error: Send + 'static,
{
    fn framework(bus: &CommandBus) -> &Cqrs<Self>;
    /// The store of the type, over the same state cache as its framework.
    fn store(bus: &CommandBus) -> &CachedEventStore<Self>;
}

macro_rules! routed {
    ($agg:ty, $field:ident) => {
        impl Routed for $agg {
            fn framework(bus: &CommandBus) -> &Cqrs<Self> {
                &bus.$field.cqrs
            }
            fn store(bus: &CommandBus) -> &CachedEventStore<Self> {
                &bus.$field.store
            }
        }
    };
}

/// An aggregate type's framework, and a handle on its store for the handlers' reads.
struct Route<A: Aggregate + Clone + 'static> {
    cqrs: Cqrs<A>,
    store: CachedEventStore<A>,
}

/// One async lock per entity being written in this process, dropped when nobody waits on it.
#[derive(Default)]
struct EntityLocks {
    locks: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl EntityLocks {
    fn get(&self, key: String) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(key).or_default().clone()
    }

    fn release(&self, key: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        drop(lock);
        // Only the map holds it now: nobody is waiting.
        if locks.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(key);
        }
    }
}

pub struct CommandBus {
    locks: EntityLocks,
    metrics: Arc<Metrics>,
    health: Arc<DbHealth>,
    committed: Arc<Notify>,
    service_requests: Route<ServiceRequest>,
    merge_requests: Route<MergeRequest>,
    device_dispenses: Route<DeviceDispense>,
    approvals: Route<Approval>,
    care_plan_activities: Route<CarePlanActivity>,
}

routed!(ServiceRequest, service_requests);
routed!(MergeRequest, merge_requests);
routed!(DeviceDispense, device_dispenses);
routed!(Approval, approvals);
routed!(CarePlanActivity, care_plan_activities);

fn framework<A: Aggregate<Services = ()> + Clone + 'static>(
    log: &Arc<dyn EventLog>,
    committed: &Arc<Notify>,
) -> Route<A> {
    let repo = || EventRepository::over(log.clone(), committed.clone());
    let store = CachedEventStore::new(repo(), CACHED_STATES);
    Route {
        store: store.sharing_cache(repo()),
        cqrs: CqrsFramework::new(store, vec![], ()),
    }
}

impl CommandBus {
    pub fn new(db: impl Into<Db>, committed: Arc<Notify>) -> Self {
        Self::with_deadline(db, committed, crate::db::DEFAULT_DEADLINE)
    }

    /// A bus whose group writers and readers give up a statement after `deadline` (closing its
    /// connection), and whose commits wait for a writer at most that long.
    pub fn with_deadline(
        db: impl Into<Db>,
        committed: Arc<Notify>,
        deadline: std::time::Duration,
    ) -> Self {
        // One event log for every aggregate type: on PostgreSQL concurrent commands of any kind
        // are written together, and their entities read together (store/postgres/group_commit,
        // store/postgres/group_read).
        let log = Store::grouped(&db.into(), deadline).event_log;
        Self {
            locks: EntityLocks::default(),
            metrics: Arc::new(Metrics::default()),
            health: Arc::default(),
            service_requests: framework(&log, &committed),
            merge_requests: framework(&log, &committed),
            device_dispenses: framework(&log, &committed),
            approvals: framework(&log, &committed),
            care_plan_activities: framework(&log, &committed),
            committed,
        }
    }

    pub fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Whether writes to the database succeed, as the commands and the readiness probe find it.
    pub fn health(&self) -> Arc<DbHealth> {
        self.health.clone()
    }

    /// The current state of an entity, read from its events (and kept in the state cache, so the
    /// command that follows does not read it again).
    pub async fn load<A: Routed>(&self, id: Uuid) -> Result<A, CommandError<A::Error>>
    where
        A::Command: Clone + Send + Sync + 'static,
        A::Error: Send + 'static,
    {
        A::store(self)
            .current(&id.to_string(), false)
            .await
            .map_err(map_error)
    }

    /// An entity's state as this process last saw it, else read from its events: for checks of
    /// attributes that never change after the entity is created (who it belongs to, how its
    /// person is reached), which the aggregate then checks again on its current state.
    pub async fn load_cached<A: Routed>(&self, id: Uuid) -> Result<A, CommandError<A::Error>>
    where
        A::Command: Clone + Send + Sync + 'static,
        A::Error: Send + 'static,
    {
        A::store(self)
            .current(&id.to_string(), true)
            .await
            .map_err(map_error)
    }

    /// Executes a command to completion in its own task, retrying on conflicts.
    pub async fn execute<A>(
        self: &Arc<Self>,
        id: Uuid,
        command: A::Command,
        meta: CommandMeta,
        context: CommandContext,
    ) -> Result<Option<CommitOutcome>, CommandError<A::Error>>
    where
        A: Routed,
        A::Command: Clone + Send + Sync + 'static,
        A::Error: Send + 'static,
    {
        let bus = Arc::clone(self);
        // A child of the request's (or the worker pass's) span, so the command's logs carry the
        // request id as well as its own.
        let span = tracing::info_span!(
            "command",
            aggregate = A::TYPE,
            id = %id,
            command_id = %meta.command_id,
            correlation_id = %meta.correlation_id,
        );
        let task = tokio::spawn(
            async move { bus.execute_here::<A>(id, command, meta, context).await }.instrument(span),
        );
        task.await
            .map_err(|e| CommandError::Internal(format!("command task failed: {e}")))?
    }

    async fn execute_here<A>(
        &self,
        id: Uuid,
        command: A::Command,
        meta: CommandMeta,
        context: CommandContext,
    ) -> Result<Option<CommitOutcome>, CommandError<A::Error>>
    where
        A: Routed,
        A::Command: Clone + Send + Sync + 'static,
        A::Error: Send + 'static,
    {
        let context = Arc::new(context);
        let metadata = meta.to_map();
        let id = id.to_string();
        // Commands on one entity queue here instead of racing to the database and retrying: a hot
        // entity then costs one transaction per command, not a storm of conflicts.
        let key = format!("{}/{id}", A::TYPE);
        let lock = self.locks.get(key.clone());
        let started = std::time::Instant::now();
        let guard = lock.lock().await;
        let result = self.attempt::<A>(&id, command, metadata, context).await;
        drop(guard);
        self.locks.release(&key, lock);
        let outcome = match &result {
            Ok(Some(_)) => "committed",
            Ok(None) => "unchanged",
            Err(CommandError::Rejected(_)) => "rejected",
            Err(CommandError::Conflict) => "conflict",
            Err(CommandError::DuplicateCommand | CommandError::DuplicateJob) => "duplicate",
            Err(CommandError::Unavailable(_)) => "unavailable",
            Err(CommandError::OutcomeUnknown(_)) => "unknown",
            Err(CommandError::Internal(_)) => "error",
        };
        let elapsed = started.elapsed().as_secs_f64();
        tracing::debug!(outcome, elapsed, "command handled");
        self.metrics.command(A::TYPE, outcome, elapsed);
        match &result {
            Ok(Some(_)) => self.health.write_succeeded(),
            Err(CommandError::Unavailable(why) | CommandError::OutcomeUnknown(why)) => {
                self.health.write_failed(why)
            }
            _ => {}
        }
        result
    }

    async fn attempt<A>(
        &self,
        id: &str,
        command: A::Command,
        metadata: HashMap<String, String>,
        context: Arc<CommandContext>,
    ) -> Result<Option<CommitOutcome>, CommandError<A::Error>>
    where
        A: Routed,
        A::Command: Clone + Send + Sync + 'static,
        A::Error: Send + 'static,
    {
        for attempt in 0..MAX_ATTEMPTS {
            let run =
                A::framework(self).execute_with_metadata(id, command.clone(), metadata.clone());
            match COMMAND_CONTEXT.scope(context.clone(), run).await {
                Ok(()) => return Ok(context.outcome()),
                Err(AggregateError::AggregateConflict) => {
                    let backoff = rand::thread_rng().gen_range(1..=4u64 << attempt.min(4));
                    tracing::debug!(attempt, "conflict, retrying");
                    self.metrics.conflict_retry(A::TYPE);
                    tokio::time::sleep(Duration::from_millis(backoff)).await;
                }
                Err(err) => return Err(map_error(err)),
            }
        }
        Err(CommandError::Conflict)
    }
}

fn map_error<E: std::error::Error>(err: AggregateError<E>) -> CommandError<E> {
    match err {
        AggregateError::UserError(e) => CommandError::Rejected(e),
        AggregateError::AggregateConflict => CommandError::Conflict,
        AggregateError::DatabaseConnectionError(e) => CommandError::Unavailable(e.to_string()),
        AggregateError::UnexpectedError(e) if e.downcast_ref::<OutcomeUnknown>().is_some() => {
            CommandError::OutcomeUnknown(e.to_string())
        }
        AggregateError::UnexpectedError(e) if e.downcast_ref::<DuplicateCommand>().is_some() => {
            CommandError::DuplicateCommand
        }
        AggregateError::UnexpectedError(e) if e.downcast_ref::<DuplicateJob>().is_some() => {
            CommandError::DuplicateJob
        }
        AggregateError::UnexpectedError(e) => {
            if e.downcast_ref::<sqlx::Error>()
                .is_some_and(database_unavailable)
            {
                return CommandError::Unavailable(e.to_string());
            }
            CommandError::Internal(e.to_string())
        }
        AggregateError::DeserializationError(e) => CommandError::Internal(e.to_string()),
    }
}

/// Whether a database error means the database cannot serve right now — it is unreachable,
/// restarting, failing over, out of connections or disk, read-only, or did not answer in time —
/// rather than a fault in the command: the answer is then 503 with `Retry-After`, which a client
/// may retry. PostgreSQL: class 08 (connection exception), 53 (insufficient resources: disk full,
/// out of memory, too many connections), 57 (operator intervention: a statement timeout, a
/// shutdown, cannot connect now), 58 (system error: I/O), 55P03 (a lock not granted within
/// `lock_timeout`) and 25006 (a read-only transaction, as on a standby after a failover). SQLite: busy or locked (another writer holds the file past the busy
/// timeout), I/O error, disk full, read-only, cannot open.
pub fn database_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db)
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() =>
        {
            db.code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14))
        }
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            ["08", "53", "57", "58"]
                .iter()
                .any(|class| code.starts_with(class))
                || matches!(code.as_ref(), "25006" | "55P03")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};

    use super::database_unavailable;

    /// A write that waited out SQLite's busy timeout behind another process's write transaction
    /// (a `projections rebuild`) is "unavailable" (503, retry), not a fault of the command (500).
    #[tokio::test]
    async fn a_sqlite_write_locked_out_by_another_writer_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("busy.db"))
            .create_if_missing(true)
            .busy_timeout(std::time::Duration::from_millis(50));
        let mut holder = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE t (x INTEGER)")
            .execute(&mut holder)
            .await
            .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut holder)
            .await
            .unwrap();
        let mut waiter = options.connect().await.unwrap();
        let err = sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut waiter)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("locked"), "{err}");
        assert!(database_unavailable(&err));
        waiter.close().await.unwrap();

        let mut other = options.connect().await.unwrap();
        let constraint = sqlx::query("SELECT * FROM missing_table")
            .execute(&mut other)
            .await
            .unwrap_err();
        assert!(!database_unavailable(&constraint), "{constraint}");
    }
}
