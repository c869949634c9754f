//! Requests in parallel. [`TestApp::concurrently`] fires `n` requests at once and answers their
//! replies in order; [`TestApp::race`] does the same while the event log's appends are held, so
//! that every request reaches the append before any commits — a deterministic race.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use super::app::TestApp;
use super::client::{Call, Reply};
use super::service::{self, Pool};

impl TestApp {
    /// Runs `request(0)`, …, `request(n - 1)` at once (all are started before any is awaited to
    /// completion) and answers their outputs in that order. A request is anything awaitable — a
    /// [`super::Call`], or an async block that sends to another instance.
    pub async fn concurrently<F, R>(&self, n: usize, request: F) -> Vec<R::Output>
    where
        F: FnMut(usize) -> R,
        R: IntoFuture,
    {
        futures::future::join_all((0..n).map(request).map(IntoFuture::into_future)).await
    }

    /// Like [`TestApp::concurrently`], with the appends to the event log held until all `n`
    /// requests are in flight and one of them waits on the log: they are then let through
    /// together.
    pub async fn race<F, R>(&self, n: usize, request: F) -> Vec<R::Output>
    where
        F: FnMut(usize) -> R,
        R: IntoFuture,
    {
        self.race_through(1, n, request).await
    }

    /// [`TestApp::race`] of two requests, answered as a pair.
    pub async fn race_two<F, R>(&self, request: F) -> [R::Output; 2]
    where
        F: FnMut(usize) -> R,
        R: IntoFuture,
    {
        let replies = self.race(2, request).await;
        match <[R::Output; 2]>::try_from(replies) {
            Ok(pair) => pair,
            Err(_) => unreachable!("a race of two answers two replies"),
        }
    }

    /// One request raced against itself, as a client's retry that overtakes its first try.
    pub async fn race_twice(&self, call: Call<'_>) -> [Reply; 2] {
        self.race_two(|_| call.clone()).await
    }

    /// Like [`TestApp::race`] for requests spread over `instances` instances of the service on
    /// this app's database: the log is let go once an append of each instance waits on it (each
    /// instance lets one command per entity through at a time), so they all built on the same
    /// state and all but one must lose the optimistic-concurrency check.
    pub async fn race_through<F, R>(&self, instances: usize, n: usize, request: F) -> Vec<R::Output>
    where
        F: FnMut(usize) -> R,
        R: IntoFuture,
    {
        let gate = self.hold_appends().await;
        let (replies, ()) = tokio::join!(
            self.concurrently(n, request),
            self.release_appends_when_waiting(gate, n, instances)
        );
        replies
    }

    /// Holds back every append to the event log (reads go on): on PostgreSQL a transaction
    /// holding `LOCK TABLE events IN EXCLUSIVE MODE`; on SQLite the database's write lock
    /// (`BEGIN IMMEDIATE`), which every writer of the service waits on.
    pub async fn hold_appends(&self) -> Gate {
        match service::pool(&self.db) {
            Pool::Postgres(pool) => {
                let mut tx = pool.begin().await.expect("gate transaction");
                sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .expect("lock the event log");
                Gate::Postgres(tx)
            }
            Pool::Sqlite(pool) => Gate::Sqlite(
                pool.begin_with("BEGIN IMMEDIATE")
                    .await
                    .expect("write lock"),
            ),
        }
    }

    /// Releases the appends held by [`TestApp::hold_appends`] once the `n` concurrent requests
    /// are in flight and (on PostgreSQL) `waiting` appends wait on the event log.
    pub async fn release_appends_when_waiting(&self, gate: Gate, n: usize, waiting: usize) {
        // Within one instance, commands on one entity queue behind each other in the process
        // (the entity lock), where no query can see them: only the first reaches the database's
        // lock. The sleeps below give the others time to line up behind it; they set up the
        // race and precede no assertion.
        let gate = match gate {
            Gate::Postgres(tx) => tx,
            Gate::Sqlite(tx) => {
                // SQLite shows no lock waits at all.
                tokio::time::sleep(Duration::from_millis(300 + 20 * n as u64)).await;
                tx.rollback().await.expect("release the write lock");
                return;
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Appends wait for the table lock; reads of the log need none that conflicts. (Every
            // test database is a copy of one template, so the table's oid is the same in all.)
            let at_lock: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_locks \
                 WHERE relation = 'events'::regclass AND NOT granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
            .fetch_one(&self.pool)
            .await
            .expect("waiting appends");
            if at_lock >= waiting as i64 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{at_lock} of {waiting} appends reached the event log"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(100 + 20 * n as u64)).await;
        gate.rollback().await.expect("release the event log");
    }
}

/// A held event log: PostgreSQL's table lock, or SQLite's write lock.
pub enum Gate {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}
