//! A database that goes away under a running statement (a restart, a failover, an operator's
//! `pg_ctl stop -m fast`) ends the session with SQLSTATE 57P01. The request is answered 503 — it
//! may be retried — never 500, and the service serves again as soon as the database does.
//! (`scripts/faults.sh` scenario (b) stops the whole server; this is its in-process regression.)

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::support::world::*;
use crate::support::TestApp;

/// Terminates the sessions of `db` that wait on a lock (the request's, held up by `locker`), as a
/// server shutdown does; returns how many it ended.
async fn terminate_waiting_sessions(admin: &mut PgConnection, db: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = $1 AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
        )
        .bind(db)
        .fetch_one(&mut *admin)
        .await
        .expect("terminate");
        if ended > 0 || Instant::now() > deadline {
            return ended;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_or_read_cut_off_by_a_database_shutdown_answers_503_and_the_next_one_succeeds() {
    crate::postgres_only!(
        "terminates PostgreSQL sessions; an embedded database has no server to lose"
    );
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let mut admin = PgConnection::connect(&app.database_url).await.unwrap();
    let mut locker = PgConnection::connect(&app.database_url).await.unwrap();

    // A command: its append waits behind a lock on the event log, and its session is ended.
    sqlx::raw_sql("BEGIN; LOCK TABLE events IN EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let (reply, ended) = tokio::join!(
        app.release(SR_QUEUED, &token).send(),
        terminate_waiting_sessions(&mut admin, &app.db_name)
    );
    assert!(ended >= 1);
    reply.assert_status(503);
    assert_eq!(reply.error_type(), "internal_error", "{:#}", reply.body);
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();

    // A read, through the API's own queries.
    sqlx::raw_sql("BEGIN; LOCK TABLE service_requests IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let (reply, ended) = tokio::join!(
        app.service_request(P_OTP, SR_ACTIVE, &token).send(),
        terminate_waiting_sessions(&mut admin, &app.db_name)
    );
    assert!(ended >= 1);
    reply.assert_status(503);
    assert!(reply.body.is_object(), "a JSON answer: {reply:#?}");
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();

    // Nothing was appended by the cut-off command; the same request now succeeds.
    let released = app
        .log(SR_QUEUED)
        .await
        .iter()
        .filter(|e| e["event_type"] == "ServiceRequestReleased")
        .count();
    assert_eq!(released, 0);
    let reply = app.release(SR_QUEUED, &token).await;
    let job = app.wait_job(&reply.job_href(), &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
    assert_eq!(
        app.service_request(P_OTP, SR_ACTIVE, &token).await.status,
        200
    );
}
