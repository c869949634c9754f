//! Black-box tests of four actions on a real PostgreSQL (see tests/support): Release service
//! request (async), Reject merge request (sync), Stop device dispense (async) and Resend SMS on
//! approval (async, with an OTP SMS). Recall has its own binary (tests/recall).

#[path = "../support/mod.rs"]
mod support;

mod dedup;
mod reject;
mod release;
mod resend;
mod resend_method;
mod resend_ownership;
mod stop;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::TestApp;

/// Imports more reference data and entities into the running service's database (the fixture
/// import's format).
pub async fn import(app: &TestApp, file: Value) {
    let bus = Arc::new(ehealth_es::commands::CommandBus::new(
        app.db.clone(),
        Arc::new(tokio::sync::Notify::new()),
    ));
    ehealth_es::import::import(&app.db, &bus, &file)
        .await
        .expect("extra entities import");
}

/// Waits until the effects worker has consumed every event in the log, so that "no SMS was queued"
/// and "the job is still pending" are observations and not races with the worker.
pub async fn wait_effects_idle(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lag = app.effects_lag().await;
        if lag == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the effects worker is still {lag} events behind"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many jobs exist (an async refusal must not leave one behind).
pub async fn job_count(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM jobs").await
}

/// A held event log: PostgreSQL's table lock, or SQLite's write lock.
pub enum Gate {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
}

/// Holds back every append to the event log (reads go on), so that concurrent requests can be
/// lined up at the INSERT and then released together: a deterministic race. On SQLite the test
/// takes the database's write lock (`BEGIN IMMEDIATE`), which every writer of the service waits on.
pub async fn hold_appends(app: &TestApp) -> Gate {
    match &app.db {
        ehealth_es::db::Db::Postgres(pool) => {
            let mut tx = pool.begin().await.expect("gate transaction");
            sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .expect("lock the event log");
            Gate::Postgres(tx)
        }
        ehealth_es::db::Db::Sqlite(lite) => Gate::Sqlite(
            lite.pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .expect("write lock"),
        ),
    }
}

/// Releases the appends held by `hold_appends` once the `n` concurrent requests are all in flight.
/// Within one service instance, commands on one entity queue behind each other in the process, so
/// only the first reaches the database lock; the others are given time to line up behind it.
pub async fn release_appends_when_waiting(app: &TestApp, gate: Gate, n: i64) {
    let gate = match gate {
        Gate::Postgres(tx) => tx,
        Gate::Sqlite(tx) => {
            // SQLite shows no lock waits; the writers are given time to line up.
            tokio::time::sleep(Duration::from_millis(300 + 20 * n as u64)).await;
            tx.rollback().await.expect("release the write lock");
            return;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("waiting appends");
        if waiting >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "none of the {n} appends reached the event log"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(100 + 20 * n as u64)).await;
    gate.rollback().await.expect("release the event log");
}
