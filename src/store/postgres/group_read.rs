//! Group read on PostgreSQL: the replays of concurrent commands (misses of the state cache) read
//! by one statement.
//!
//! A command on an entity the state cache does not hold replays its events. Under load many
//! commands do that at once, each with a query of its own on the main pool — a round trip, an
//! executor start, and a test of the connection each time sqlx takes it back. Here a few reader
//! tasks, each on a connection of its own, take every replay waiting and read all their events
//! with one statement ([`READ_MANY`], through the events' primary key), then hand each command
//! its own entity's events. If the statement fails, each replay is read again on its own on the
//! main pool, so it gets its own answer (a database outage still surfaces as the error of its
//! own query).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::held::Held;

/// Reader tasks: statements in flight at once.
const READERS: usize = 2;

/// Entities read by one statement at most.
const MAX_GROUP: usize = 64;

/// One event of a replay: `(sequence, event_type, event_version, payload, metadata, hash,
/// recorded_at)`.
pub(super) type EventRow = (
    i64,
    String,
    String,
    Value,
    Value,
    Option<Vec<u8>>,
    DateTime<Utc>,
);

/// One entity's events, in order.
const READ_ONE: &str = "SELECT sequence, event_type, event_version, payload, metadata, hash, \
     recorded_at FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 ORDER BY sequence";

/// Many entities' events, each entity's in order.
const READ_MANY: &str = "SELECT e.aggregate_type, e.aggregate_id, e.sequence, e.event_type, \
     e.event_version, e.payload, e.metadata, e.hash, e.recorded_at \
     FROM UNNEST($1::text[], $2::text[]) AS w(aggregate_type, aggregate_id) \
     JOIN events e ON e.aggregate_type = w.aggregate_type AND e.aggregate_id = w.aggregate_id \
     ORDER BY e.aggregate_type, e.aggregate_id, e.sequence";

/// One row of [`READ_MANY`]: the entity it belongs to, then the columns of an [`EventRow`].
#[derive(sqlx::FromRow)]
struct KeyedRow {
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: Value,
    metadata: Value,
    hash: Option<Vec<u8>>,
    recorded_at: DateTime<Utc>,
}

type Key = (&'static str, String);

/// A replay waiting for a reader.
struct Wanted {
    key: Key,
    answer: oneshot::Sender<Result<Vec<EventRow>, sqlx::Error>>,
}

/// The readers of one database, started on the first replay.
pub(crate) struct GroupRead {
    /// The main pool: replays read on their own after a failed group statement.
    main: PgPool,
    /// The readers' own connections, one each.
    pool: PgPool,
    /// How long a statement may take; past it, the replays are answered as unavailable.
    deadline: Duration,
    queue: OnceLock<mpsc::Sender<Wanted>>,
    /// Group statements run so far.
    statements: Arc<AtomicUsize>,
}

/// Replays that may wait for a reader; beyond them a replay is refused at once (503).
const QUEUE: usize = READERS * MAX_GROUP * 8;

impl GroupRead {
    /// Readers on connections of their own, with the settings of `pool`'s and the statement's
    /// generic plan ([`crate::db::generic_plan_pool`]: a nested loop over the events' primary key).
    pub fn new(pool: &PgPool, deadline: Duration) -> Self {
        Self {
            main: pool.clone(),
            pool: crate::db::generic_plan_pool(pool, READERS as u32),
            deadline,
            queue: OnceLock::new(),
            statements: Arc::default(),
        }
    }

    /// Group statements run so far (each read one or more entities).
    #[cfg(test)]
    fn statements(&self) -> usize {
        self.statements.load(Ordering::Relaxed)
    }

    /// The events of one entity, possibly read by one statement with other entities'.
    pub async fn events(
        &self,
        aggregate_type: &'static str,
        aggregate_id: &str,
    ) -> Result<Vec<EventRow>, sqlx::Error> {
        let queue = self.queue.get_or_init(|| {
            start(
                self.main.clone(),
                Held::new(self.pool.clone(), self.deadline),
                self.statements.clone(),
            )
        });
        let (answer, answered) = oneshot::channel();
        let wanted = Wanted {
            key: (aggregate_type, aggregate_id.to_string()),
            answer,
        };
        hand_over(queue, wanted, answered).await
    }
}

/// Hands `item` to a grouping task (this one's or the group commit's) and waits for its answer:
/// a full queue refuses it at once as the pool's timeout, a closed one as the pool's closing, and
/// an answer that never comes is a crashed worker.
pub(super) async fn hand_over<T, R>(
    queue: &mpsc::Sender<T>,
    item: T,
    answered: oneshot::Receiver<Result<R, sqlx::Error>>,
) -> Result<R, sqlx::Error> {
    queue.try_send(item).map_err(|refused| match refused {
        mpsc::error::TrySendError::Full(_) => sqlx::Error::PoolTimedOut,
        mpsc::error::TrySendError::Closed(_) => sqlx::Error::PoolClosed,
    })?;
    answered
        .await
        .unwrap_or_else(|_| Err(sqlx::Error::WorkerCrashed))
}

/// One entity's events, by a query of its own.
pub(super) async fn read_one<'c>(
    executor: impl sqlx::PgExecutor<'c>,
    aggregate_type: &str,
    aggregate_id: &str,
) -> Result<Vec<EventRow>, sqlx::Error> {
    sqlx::query_as(READ_ONE)
        .bind(aggregate_type)
        .bind(aggregate_id)
        .fetch_all(executor)
        .await
}

fn start(main: PgPool, held: Held, statements: Arc<AtomicUsize>) -> mpsc::Sender<Wanted> {
    let (queue, waiting) = mpsc::channel(QUEUE);
    let waiting = Arc::new(Mutex::new(waiting));
    for _ in 0..READERS {
        tokio::spawn(reader(
            main.clone(),
            Held::new(held.pool().clone(), held.deadline),
            waiting.clone(),
            statements.clone(),
        ));
    }
    queue
}

/// Takes what is waiting (at least one replay), reads it, answers; until the service drops its
/// [`GroupRead`].
async fn reader(
    main: PgPool,
    mut held: Held,
    waiting: Arc<Mutex<mpsc::Receiver<Wanted>>>,
    statements: Arc<AtomicUsize>,
) {
    loop {
        let group = {
            let mut waiting = waiting.lock().await;
            let Some(first) = waiting.recv().await else {
                return;
            };
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                let Ok(next) = waiting.try_recv() else {
                    break;
                };
                group.push(next);
            }
            group
        };
        statements.fetch_add(1, Ordering::Relaxed);
        match read_group(&mut held, &group).await {
            Ok(mut events) => {
                // An entity wanted twice in a group (two commands on one entity from two
                // instances' retries, say): each gets its events.
                let mut left: HashMap<Key, usize> = HashMap::new();
                for wanted in &group {
                    *left.entry(wanted.key.clone()).or_default() += 1;
                }
                for wanted in group {
                    let last = left.get_mut(&wanted.key).is_none_or(|n| {
                        *n -= 1;
                        *n == 0
                    });
                    let rows = if last {
                        events.remove(&wanted.key)
                    } else {
                        events.get(&wanted.key).cloned()
                    };
                    let _ = wanted.answer.send(Ok(rows.unwrap_or_default()));
                }
            }
            Err(sqlx::Error::PoolTimedOut) => {
                // The database did not answer in time: reading again would wait again.
                for wanted in group {
                    let _ = wanted.answer.send(Err(sqlx::Error::PoolTimedOut));
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, entities = group.len(), "group read failed; reading each entity on its own");
                for wanted in group {
                    let result = tokio::time::timeout(
                        held.deadline,
                        read_one(&main, wanted.key.0, &wanted.key.1),
                    )
                    .await
                    .unwrap_or(Err(sqlx::Error::PoolTimedOut));
                    let _ = wanted.answer.send(result);
                }
            }
        }
    }
}

/// The group's events by entity, read on the reader's own connection ([`Held`]) within its
/// deadline (past it: `PoolTimedOut`, the connection closed).
async fn read_group(
    held: &mut Held,
    group: &[Wanted],
) -> Result<HashMap<Key, Vec<EventRow>>, sqlx::Error> {
    let mut types = Vec::with_capacity(group.len());
    let mut ids = Vec::with_capacity(group.len());
    let mut by_key: HashMap<Key, Vec<EventRow>> = HashMap::with_capacity(group.len());
    for wanted in group {
        if by_key.insert(wanted.key.clone(), Vec::new()).is_none() {
            types.push(wanted.key.0);
            ids.push(wanted.key.1.as_str());
        }
    }
    let deadline = held.deadline;
    let conn = held.conn().await?;
    let read = sqlx::query_as::<_, KeyedRow>(READ_MANY)
        .bind(&types)
        .bind(&ids)
        .fetch_all(conn);
    let rows = match tokio::time::timeout(deadline, read).await {
        Ok(Ok(rows)) => rows,
        Ok(Err(err)) => {
            held.failed();
            return Err(err);
        }
        Err(_) => {
            held.abandon();
            return Err(sqlx::Error::PoolTimedOut);
        }
    };
    for row in rows {
        let Some(&kind) = types.iter().find(|t| **t == row.aggregate_type) else {
            continue;
        };
        if let Some(events) = by_key.get_mut(&(kind, row.aggregate_id)) {
            events.push((
                row.sequence,
                row.event_type,
                row.event_version,
                row.payload,
                row.metadata,
                row.hash,
                row.recorded_at,
            ));
        }
    }
    Ok(by_key)
}

#[cfg(test)]
mod tests {
    //! On a real PostgreSQL (`EHEALTH_TEST_DATABASE_URL`, as the black-box suites). The replays of
    //! a test are queued before any reader runs (a current-thread runtime: the readers start on
    //! the first replay and run only when the test awaits), so the first reader takes them all.

    use super::*;

    async fn database() -> PgPool {
        crate::store::postgres::test_database("ehealth_gr", 4).await
    }

    /// `n` events of one entity, appended in reverse order of sequence.
    async fn seed(pool: &PgPool, aggregate_type: &str, id: &str, n: i64) {
        for sequence in (1..=n).rev() {
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
                 event_version, payload, metadata, hash) \
                 VALUES ($1, $2, $3, 'Happened', '1.0', jsonb_build_object('n', $3), '{}', \
                 sha256(($2 || $3)::bytea))",
            )
            .bind(aggregate_type)
            .bind(id)
            .bind(sequence)
            .execute(pool)
            .await
            .expect("event");
        }
    }

    fn sequences(rows: &[EventRow]) -> Vec<i64> {
        rows.iter().map(|r| r.0).collect()
    }

    #[tokio::test]
    async fn concurrent_replays_are_read_by_one_statement_each_getting_its_own_events_in_order() {
        let pool = database().await;
        seed(&pool, "ServiceRequest", "a", 3).await;
        seed(&pool, "ServiceRequest", "b", 1).await;
        // The same id under another type is another entity.
        seed(&pool, "Approval", "a", 2).await;
        let reads = GroupRead::new(&pool, crate::db::DEFAULT_DEADLINE);

        let (a, b, approval_a, missing, a_again) = tokio::join!(
            reads.events("ServiceRequest", "a"),
            reads.events("ServiceRequest", "b"),
            reads.events("Approval", "a"),
            reads.events("ServiceRequest", "nobody"),
            reads.events("ServiceRequest", "a"),
        );
        assert_eq!(reads.statements(), 1);
        assert_eq!(sequences(&a.unwrap()), vec![1, 2, 3]);
        assert_eq!(sequences(&b.unwrap()), vec![1]);
        let approval_a = approval_a.unwrap();
        assert_eq!(sequences(&approval_a), vec![1, 2]);
        assert_eq!(approval_a[1].3, serde_json::json!({"n": 2}));
        assert!(missing.unwrap().is_empty());
        // Wanted twice in one group: both get the events.
        assert_eq!(sequences(&a_again.unwrap()), vec![1, 2, 3]);

        // Each answer is what a query of its own reads.
        let own = read_one(&pool, "ServiceRequest", "a").await.unwrap();
        let grouped = reads.events("ServiceRequest", "a").await.unwrap();
        assert_eq!(own, grouped);
        assert_eq!(reads.statements(), 2);
    }

    /// A reader whose connection was ended: the group is read again entity by entity on the main
    /// pool, each answered; the next group runs on a new connection.
    #[tokio::test]
    async fn a_failed_group_is_read_again_entity_by_entity() {
        let pool = database().await;
        seed(&pool, "ServiceRequest", "a", 2).await;
        seed(&pool, "ServiceRequest", "b", 1).await;
        let reads = GroupRead::new(&pool, crate::db::DEFAULT_DEADLINE);
        assert_eq!(
            sequences(&reads.events("ServiceRequest", "a").await.unwrap()),
            vec![1, 2]
        );

        // End every session of the database but the main pool's (all four of its connections,
        // held at once, so none is left out): the reader's connection.
        let main_pids: Vec<i32> = {
            let mut held = Vec::new();
            let mut pids = Vec::new();
            for _ in 0..4 {
                let mut conn = pool.acquire().await.unwrap();
                pids.push(
                    sqlx::query_scalar("SELECT pg_backend_pid()")
                        .fetch_one(&mut *conn)
                        .await
                        .unwrap(),
                );
                held.push(conn);
            }
            pids
        };
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> ALL($1)",
        )
        .bind(&main_pids)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(ended >= 1, "the reader's session was not found");

        let (a, b) = tokio::join!(
            reads.events("ServiceRequest", "a"),
            reads.events("ServiceRequest", "b"),
        );
        assert_eq!(sequences(&a.unwrap()), vec![1, 2]);
        assert_eq!(sequences(&b.unwrap()), vec![1]);
        assert_eq!(
            sequences(&reads.events("ServiceRequest", "b").await.unwrap()),
            vec![1]
        );
    }

    /// The readers keep the statement's generic plan, and that plan reads each wanted entity
    /// through the events' primary key (it is the plan of every execution, whatever the arrays
    /// hold).
    #[tokio::test]
    async fn readers_keep_one_generic_plan_through_the_events_primary_key() {
        let pool = database().await;
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, hash) \
             SELECT 'ServiceRequest', 'sr' || (i / 2), i % 2 + 1, 'Happened', '1.0', '{}', '{}', \
             sha256(i::text::bytea) FROM generate_series(0, 39999) AS i",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("ANALYZE events").execute(&pool).await.unwrap();
        let reads = GroupRead::new(&pool, crate::db::DEFAULT_DEADLINE);
        let mut conn = reads.pool.acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(mode, "force_generic_plan");
        sqlx::raw_sql(&format!("PREPARE wanted (text[], text[]) AS {READ_MANY}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        let plan: Vec<String> = sqlx::query_scalar(
            "EXPLAIN EXECUTE wanted('{ServiceRequest,ServiceRequest}', '{sr1,sr2}')",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("Index Scan using events_pkey"), "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
}
