//! `ehealth-es projections verify`: passes on a consistent database, names every hand-made
//! difference (table, key, column, both values), changes nothing and leaves nothing behind.

use uuid::Uuid;

use crate::process::run;
use crate::state::*;
use crate::support::world::*;
use crate::support::{execute, sqlite_backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_a_consistent_database_and_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    populate(&app, 200).await;
    let events = scalar(&app.db, "SELECT count(*) FROM events").await;
    let before = snapshot(&app.db).await;
    let catalog_before = catalog(&app.db).await;

    let out = run(&["projections", "verify"], &app.database_url, 120).await;

    out.assert_success();
    assert!(
        out.stdout
            .contains(&format!("verified the projections against {events} events")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(": 0 difference(s)"), "{}", out.stdout);
    let requests = scalar(&app.db, "SELECT count(*) FROM service_requests").await;
    assert!(requests > 0);
    assert!(
        out.stdout.contains(&format!(
            "service_requests: {requests} live rows, {requests} rebuilt rows"
        )),
        "{}",
        out.stdout
    );
    assert_same(&before, &snapshot(&app.db).await);
    assert_eq!(catalog(&app.db).await, catalog_before);
    assert_eq!(leftovers(&app.db).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_table_key_and_column_of_a_changed_value() {
    let app = TestApp::spawn().await;
    populate(&app, 0).await;
    let changed = execute(
        &app.db,
        &format!("UPDATE service_requests SET status = 'recalled' WHERE id = '{SR_QUEUED}'"),
    )
    .await;
    assert_eq!(changed, 1);

    let out = run(&["projections", "verify"], &app.database_url, 120).await;

    out.assert_failure();
    let line =
        format!(r#"service_requests id={SR_QUEUED}: status: live "recalled" | rebuilt "active""#);
    assert!(out.stdout.contains(&line), "{line} in\n{}", out.stdout);
    assert!(out.stdout.contains(": 1 difference(s)"), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("the projections differ from the event log in 1 row(s)"),
        "{}",
        out.stderr
    );
    // Verify only reads: the live row stays as it was, and the aside copy is gone.
    let row = app.current("service_requests", SR_QUEUED).await.unwrap();
    assert_eq!(row["status"], "recalled");
    assert_eq!(leftovers(&app.db).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_missing_and_unexplained_rows() {
    let app = TestApp::spawn().await;
    populate(&app, 0).await;
    // The reject's history row disappears; a feed record nobody's event explains appears.
    let deleted = execute(
        &app.db,
        &format!(
            "DELETE FROM status_history WHERE entity_id = '{MR_NEW}' AND sequence = 2 \
             AND attribute = 'status'"
        ),
    )
    .await;
    assert_eq!(deleted, 1);
    let forged = Uuid::new_v4();
    let inserted = execute(
        &app.db,
        &format!(
            "INSERT INTO status_change_events (id, event_type, entity_type, entity_id, properties, \
             event_time, changed_by, global_position, sequence) \
             SELECT '{forged}', event_type, entity_type, entity_id, properties, event_time, \
             changed_by, global_position, 99 FROM status_change_events WHERE entity_id = '{MR_NEW}'"
        ),
    )
    .await;
    assert_eq!(inserted, 1);

    let out = run(&["projections", "verify"], &app.database_url, 120).await;

    out.assert_failure();
    let missing = format!(
        "status_history entity_type=MergeRequest entity_id={MR_NEW} sequence=2 attribute=status: \
         missing from the live table; rebuilt: "
    );
    assert!(
        out.stdout.contains(&missing),
        "{missing} in\n{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(r#""new_value":"REJECTED""#),
        "{}",
        out.stdout
    );
    let extra = format!("status_change_events id={forged}: not implied by the event log; live: ");
    assert!(out.stdout.contains(&extra), "{extra} in\n{}", out.stdout);
    assert!(out.stdout.contains(": 2 difference(s)"), "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ignores_when_feed_records_were_written() {
    let app = TestApp::spawn().await;
    populate(&app, 0).await;
    let changed = execute(
        &app.db,
        "UPDATE status_change_events SET inserted_at = '2000-01-01T00:00:00.000000Z'",
    )
    .await;
    assert!(changed > 0);

    run(&["projections", "verify"], &app.database_url, 120)
        .await
        .assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_compares_documents_too() {
    let app = TestApp::spawn().await;
    populate(&app, 0).await;
    let set = if sqlite_backend() {
        "json_set(document, '$.record.other.details', json('[]'))"
    } else {
        "jsonb_set(document, '{record,other,details}', '[]')"
    };
    let changed = execute(
        &app.db,
        &format!("UPDATE device_dispenses SET document = {set} WHERE id = '{DD_IN_PROGRESS}'"),
    )
    .await;
    assert_eq!(changed, 1);

    let out = run(&["projections", "verify"], &app.database_url, 120).await;

    out.assert_failure();
    let prefix = format!("device_dispenses id={DD_IN_PROGRESS}: document: live ");
    assert!(out.stdout.contains(&prefix), "{prefix} in\n{}", out.stdout);
    assert!(out.stdout.contains(": 1 difference(s)"), "{}", out.stdout);
}
