//! The reference-data cache (PostgreSQL): a change to a reference table made by anyone — here
//! plain SQL, as an operator would — reaches a running service without a restart, through the
//! table's trigger and the service's LISTEN connection.

use std::time::{Duration, Instant};

use crate::support::world::*;
use crate::support::TestApp;

const NOT_ALLOWED: &str = "Action is not allowed for the legal entity";
const PROBE_OK: &str = "Invalid program processing status";

/// Releases SR_PPS_NEW, which changes nothing: with an allowed legal entity the answer is the
/// status rule's 409; without, the legal entity rule's 409 (checked first).
async fn probe(app: &TestApp, token: &str) -> String {
    let reply = app.release(SR_PPS_NEW, token).await;
    assert_eq!(reply.status, 409, "{:#}", reply.body);
    reply.message().to_string()
}

async fn wait_for(app: &TestApp, token: &str, expected: &str) -> Duration {
    let started = Instant::now();
    loop {
        let message = probe(app, token).await;
        if message == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still `{message}` 5 s after the change, expected `{expected}`"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sql(app: &TestApp, statement: &str) {
    sqlx::query(statement)
        .bind(LE_MAIN)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_reads_are_cached_and_a_change_by_plain_sql_reaches_the_service_without_a_restart(
) {
    crate::postgres_only!("the cache and its invalidation by NOTIFY exist on PostgreSQL only");
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    // The service caches only while its connection listens for changes.
    let started = Instant::now();
    loop {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%ehealth_reference%'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if listening > 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "nobody listens");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let released = app.release(SR_QUEUED, &token).await;
    assert_eq!(released.status, 202, "{:#}", released.body);
    for _ in 0..3 {
        assert_eq!(probe(&app, &token).await, PROBE_OK);
    }

    // A change that announces nothing is not seen: the legal entity is read from the cache.
    sql(
        &app,
        "ALTER TABLE legal_entities DISABLE TRIGGER legal_entities_changed",
    )
    .await;
    sql(
        &app,
        "UPDATE legal_entities SET status = 'CLOSED' WHERE id = $1",
    )
    .await;
    assert_eq!(probe(&app, &token).await, PROBE_OK, "served from the cache");

    // Any statement on the table announces a change (here one that changes nothing more).
    sql(
        &app,
        "ALTER TABLE legal_entities ENABLE TRIGGER legal_entities_changed",
    )
    .await;
    sql(
        &app,
        "UPDATE legal_entities SET status = status WHERE id = $1",
    )
    .await;
    let seen = wait_for(&app, &token, NOT_ALLOWED).await;
    eprintln!("closing seen after {seen:?}");
    // A colleague's: the same user's release while its job is pending would be answered with it.
    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let refused = app.release(SR_QUEUED, &colleague).await;
    refused.assert_conflict(NOT_ALLOWED);

    sql(
        &app,
        "UPDATE legal_entities SET status = 'ACTIVE' WHERE id = $1",
    )
    .await;
    wait_for(&app, &token, PROBE_OK).await;
}
