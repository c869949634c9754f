//! `ehealth-es projections rebuild` beside other work: a second rebuild or verify (refused), a
//! write transaction of another process (SQLite: waited for), the service appending all along
//! (no event missed or doubled), and an autovacuum of the log at the swap (appends not held).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ehealth_projections::rebuild::{rebuild, Options};
use serde_json::{json, Value};
use sqlx::{ConnectOptions, Connection};
use uuid::Uuid;

use crate::process::run;
use crate::state::*;
use crate::support::world::*;
use crate::support::{eventually, service, sqlite_backend, TestApp, PATIENCE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_rebuild_or_verify_is_refused_while_one_runs() {
    crate::postgres_only!(
        "PostgreSQL's session advisory lock between maintenance runs; on SQLite a rebuild waits \
         for the write transaction before it and a verify reads a snapshot \
         (a_rebuild_waits_for_a_write_transaction_of_another_process_and_a_verify_does_not)"
    );
    let app = TestApp::spawn().await;
    let mut holder = app.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(ehealth_projections::rebuild::MAINTENANCE_LOCK)
        .execute(&mut *holder)
        .await
        .unwrap();
    let before = snapshot(&app.db).await;

    for command in ["rebuild", "verify"] {
        let out = run(&["projections", command], &app.database_url, 60).await;
        out.assert_failure();
        assert!(
            out.stderr
                .contains("another projections rebuild or verify is running"),
            "{out:#?}"
        );
    }
    assert_same(&before, &snapshot(&app.db).await);
    sqlx::query("SELECT pg_advisory_unlock_all()")
        .execute(&mut *holder)
        .await
        .unwrap();
}

/// SQLite has one writer: a rebuild started while another process holds a write transaction waits
/// for it (`BEGIN IMMEDIATE` with the busy timeout) and then folds the log over what it committed;
/// a verify meanwhile reads the last committed state and never waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_waits_for_a_write_transaction_of_another_process_and_a_verify_does_not() {
    crate::sqlite_only!("PostgreSQL's rebuild builds aside and holds appends only for its swap");
    let app = TestApp::spawn().await;
    populate(&app, 40).await;
    let before = snapshot(&app.db).await;
    let options: sqlx::sqlite::SqliteConnectOptions = app.database_url.parse().unwrap();
    let mut holder = options.connect().await.unwrap();
    let mut writing = holder.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let damage =
        format!("UPDATE service_requests SET status = 'recalled' WHERE id = '{SR_QUEUED}'");
    let changed = sqlx::query(&damage).execute(&mut *writing).await.unwrap();
    assert_eq!(changed.rows_affected(), 1);

    // The damage is not committed: verify sees the consistent state, at once.
    let out = run(&["projections", "verify"], &app.database_url, 60).await;
    out.assert_success();
    assert!(out.stdout.contains(": 0 difference(s)"), "{}", out.stdout);

    let url = app.database_url.clone();
    let rebuilding = tokio::spawn(async move { run(&["projections", "rebuild"], &url, 60).await });
    // What is tested is that the rebuild waits: SQLite shows no lock waits to observe, so it is
    // given this long to finish, which it must not do while the write transaction is open.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !rebuilding.is_finished(),
        "the rebuild waits for the open write transaction"
    );
    writing.commit().await.unwrap();
    assert_eq!(
        app.current("service_requests", SR_QUEUED).await.unwrap()["status"],
        "recalled",
        "the damage is committed"
    );

    let out = rebuilding.await.unwrap();
    out.assert_success();
    assert!(
        out.stdout.contains("appends were held for"),
        "{}",
        out.stdout
    );
    // It ran after the commit: the committed damage is repaired.
    assert_same(&before, &snapshot(&app.db).await);
    holder.close().await.unwrap();
}

/// An import file with `n` new releasable service requests, stoppable dispenses and approvals.
fn new_entities(n: usize) -> (Value, Vec<Uuid>, Vec<Uuid>, Vec<Uuid>) {
    let ids = |_| (0..n).map(|_| Uuid::new_v4()).collect::<Vec<_>>();
    let (srs, dds, aps) = (ids(0), ids(1), ids(2));
    let file = json!({
        "service_requests": srs.iter().map(|id| json!({
            "id": id, "patient_id": P_OTP, "status": "active", "program_processing_status": "in_queue",
            "requester_employee": E_DOCTOR, "requester_legal_entity": LE_MAIN,
            "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE_MAIN,
            "requisition": "0000-0000-0000-0000", "intent": "order",
            "inserted_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-01T10:00:00Z"
        })).collect::<Vec<_>>(),
        "device_dispenses": dds.iter().map(|id| json!({
            "id": id, "patient_id": P_OTP, "status": "in_progress", "performer_legal_entity": LE_MAIN
        })).collect::<Vec<_>>(),
        "approvals": aps.iter().map(|id| json!({
            "id": id, "patient_id": P_OTP, "status": "new", "access_level": "read",
            "granted_to": E_DOCTOR, "reason": null, "expires_at": 1_900_000_000
        })).collect::<Vec<_>>(),
    });
    (file, srs, dds, aps)
}

/// Imports and actions until told to stop; returns the rounds done and every unexpected answer.
async fn hammer(
    app: Arc<TestApp>,
    stop: Arc<AtomicBool>,
    progress: Arc<AtomicUsize>,
) -> Vec<String> {
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let mut unexpected = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let (file, srs, dds, aps) = new_entities(3);
        if let Err(e) = service::import(&app.db, &file).await {
            unexpected.push(format!("import: {e}"));
        }
        let mut paths = Vec::new();
        paths.extend(
            srs.iter()
                .map(|id| format!("/api/service_requests/{id}/actions/release")),
        );
        paths.extend(
            dds.iter()
                .map(|id| format!("/api/patients/{P_OTP}/device_dispenses/{id}/actions/stop")),
        );
        let mut requests: Vec<(String, &str)> = paths
            .into_iter()
            .map(|path| (path, token.as_str()))
            .collect();
        // Each approval resent twice, by two users: the same resend while its job is pending
        // would be answered with that job.
        for token in [&token, &colleague] {
            requests.extend(aps.iter().map(|id| {
                (
                    format!("/api/patients/{P_OTP}/approvals/{id}/actions/resend"),
                    token.as_str(),
                )
            }));
        }
        for (path, token) in requests {
            let reply = app.patch(&path, Some(token), None).await;
            if reply.status != 202 {
                unexpected.push(format!("{path}: {} {}", reply.status, reply.body));
            }
        }
        progress.fetch_add(1, Ordering::Relaxed);
    }
    unexpected
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_under_concurrent_writes_misses_and_doubles_no_event() {
    let app = Arc::new(TestApp::spawn().await);
    populate(&app, 200).await;
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..3)
        .map(|_| {
            let (app, stop, progress) =
                (Arc::clone(&app), Arc::clone(&stop), Arc::clone(&progress));
            tokio::spawn(hammer(app, stop, progress))
        })
        .collect();
    // The writers are under way once they have appended.
    let populated = scalar(&app.db, "SELECT count(*) FROM events").await;
    assert!(
        eventually(PATIENCE, || async {
            scalar(&app.db, "SELECT count(*) FROM events").await > populated
        })
        .await,
        "the writers never appended"
    );

    // PostgreSQL: the library's rebuild in this process, beside the service. SQLite: the binary,
    // another process that takes the file's write lock while the service keeps appending.
    let pool = if sqlite_backend() {
        None
    } else {
        Some(service::connect_postgres(&app.database_url, 4).await)
    };
    let db = &app.db;
    let mut grew_during_a_rebuild = false;
    for _ in 0..3 {
        let before = scalar(db, "SELECT count(*) FROM events").await;
        let rebuilt = match &pool {
            Some(pool) => {
                rebuild(pool, Options::default())
                    .await
                    .expect("rebuild")
                    .events
            }
            None => {
                let out = run(&["projections", "rebuild"], &app.database_url, 120).await;
                out.assert_success();
                number_before(&out.stdout, "events in")
            }
        };
        let after = scalar(db, "SELECT count(*) FROM events").await;
        assert!(
            (before as u64..=after as u64).contains(&rebuilt),
            "{before} <= {rebuilt} <= {after}"
        );
        grew_during_a_rebuild |= after > before;
        // A pause between rebuilds, so that the writers append between them too.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The rebuilds did not stop the writers: they go on after them (on SQLite a rebuild holds the
    // file's write lock while it runs, so how many rounds fit beside three depends on the machine).
    let after_rebuilds = progress.load(Ordering::Relaxed);
    assert!(
        eventually(PATIENCE, || async {
            progress.load(Ordering::Relaxed) > after_rebuilds + 3
        })
        .await,
        "the writers stopped writing after the rebuilds ({after_rebuilds} rounds)"
    );
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        let unexpected = writer.await.unwrap();
        assert!(unexpected.is_empty(), "{unexpected:#?}");
    }
    assert!(
        grew_during_a_rebuild,
        "events were appended while a rebuild ran"
    );
    // Let the workers finish the last jobs (the effects worker writes no projections, but its
    // revokes would); then the tables must be exactly what the log implies.
    app.workers_idle().await;

    for (table, aggregate) in [
        ("service_requests", "ServiceRequest"),
        ("merge_requests", "MergeRequest"),
        ("device_dispenses", "DeviceDispense"),
        ("approvals", "Approval"),
    ] {
        let wrong = scalar_neutral(
            db,
            &format!(
                "SELECT count(*) FROM (SELECT aggregate_id, max(sequence) AS version FROM events \
                 WHERE aggregate_type = '{aggregate}' GROUP BY aggregate_id) e \
                 FULL JOIN {table} t ON t.id::text = e.aggregate_id \
                 WHERE t.id IS NULL OR e.aggregate_id IS NULL OR t.version <> e.version"
            ),
        )
        .await;
        assert_eq!(wrong, 0, "{table}: one row per entity at its last sequence");
    }
    let unrecorded = scalar_neutral(
        db,
        "SELECT count(*) FROM events e WHERE e.event_type <> 'ApprovalOtpResent' AND NOT EXISTS \
         (SELECT 1 FROM status_history h WHERE h.entity_id::text = e.aggregate_id \
          AND h.sequence = e.sequence AND h.global_position = e.global_position)",
    )
    .await;
    assert_eq!(
        unrecorded, 0,
        "every status-changing event is in the history"
    );
    let unexplained = scalar_neutral(
        db,
        "SELECT count(*) FROM status_history h WHERE NOT EXISTS (SELECT 1 FROM events e \
         WHERE e.aggregate_id = h.entity_id::text AND e.sequence = h.sequence \
         AND e.global_position = h.global_position)",
    )
    .await;
    assert_eq!(unexplained, 0, "every history row comes from an event");
    let changes = scalar(
        db,
        "SELECT count(*) FROM (SELECT DISTINCT entity_type, entity_id, sequence \
         FROM status_history WHERE sequence > 1) c",
    )
    .await;
    let feed = scalar(db, "SELECT count(*) FROM status_change_events").await;
    assert!(feed > 0);
    assert_eq!(feed, changes, "one feed record per status-changing event");

    if let Some(pool) = &pool {
        let report = ehealth_projections::verify::verify(pool, Default::default())
            .await
            .expect("verify");
        assert!(report.differences.is_empty(), "{:#?}", report.differences);
    }
    run(&["projections", "verify"], &app.database_url, 120)
        .await
        .assert_success();
}

/// What an autovacuum of the log holds (SHARE UPDATE EXCLUSIVE on `events`) when a rebuild
/// reaches its swap: the swap waits for it without holding appends, and completes once it ends.
/// The swap used to ask for its EXCLUSIVE lock on `events` straight away; appends queue behind
/// such a request, so every append waited with it (for an autovacuum: until PostgreSQL cancelled
/// it after `deadlock_timeout`, 1 s; here: until each attempt's lock timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_vacuum_of_the_log_at_the_swap_does_not_hold_appends() {
    crate::postgres_only!("the swap's locks are PostgreSQL's");
    let app = TestApp::spawn().await;
    populate(&app, 50).await;
    let mut vacuum = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE events IN SHARE UPDATE EXCLUSIVE MODE")
        .execute(&mut vacuum)
        .await
        .unwrap();

    let pool = service::connect_postgres(&app.database_url, 4).await;
    let rebuilding = tokio::spawn(async move {
        rebuild(
            &pool,
            Options {
                lock_timeout: Duration::from_millis(800),
                ..Options::default()
            },
        )
        .await
    });
    // Appends while the swap waits (resends of one approval: each appends an event).
    let path = format!("/api/patients/{P_OTP}/approvals/{AP_OTP}/actions/resend");
    let events_before = scalar(&app.db, "SELECT count(*) FROM events").await;
    let started = std::time::Instant::now();
    let mut slowest = Duration::ZERO;
    let mut appended = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        // Each by another user: the same resend while its job is pending would be answered
        // with that job and append nothing.
        let token = app.token(uuid::Uuid::new_v4(), LE_MAIN, ALL_SCOPES);
        let t = std::time::Instant::now();
        let reply = app.patch(&path, Some(&token), None).await;
        assert_eq!(reply.status, 202, "{:#}", reply.body);
        slowest = slowest.max(t.elapsed());
        appended += 1;
        // The pace of the appends while the swap waits (a steady trickle, not a burst).
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!rebuilding.is_finished(), "the swap waits for the vacuum");
    sqlx::raw_sql("COMMIT").execute(&mut vacuum).await.unwrap();
    let report = rebuilding.await.unwrap().expect("rebuild");

    assert!(
        slowest < Duration::from_millis(400),
        "appends went on while the swap waited: slowest {slowest:?} of {appended}"
    );
    assert_eq!(
        scalar(&app.db, "SELECT count(*) FROM events").await,
        events_before + appended
    );
    assert!(report.events >= events_before as u64);
}
