//! `ehealth-es projections verify`: passes on a consistent database, names every hand-made
//! difference (table, key, column, both values), changes nothing and leaves nothing behind.

use uuid::Uuid;

use crate::process::{projections_verify, Output};
use crate::state::*;
use crate::support::world::*;
use crate::support::{execute, sqlite_backend, TestApp};

/// On a populated database that `changes` (each touching one row) altered by hand, `projections
/// verify` fails, and its report has every one of `found`.
async fn assert_verify_finds(changes: &[String], found: &[&str]) -> (TestApp, Output) {
    let app = populated(0).await;
    for sql in changes {
        change(&app.db, sql, 1).await;
    }

    let out = projections_verify(&app).await;

    out.assert_failure();
    for text in found {
        out.assert_stdout_has(text);
    }
    (app, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_passes_on_a_consistent_database_and_leaves_nothing_behind() {
    let app = populated(200).await;
    let events = scalar(&app.db, "SELECT count(*) FROM events").await;
    let before = snapshot(&app.db).await;
    let catalog_before = catalog(&app.db).await;

    let out = projections_verify(&app).await;

    out.assert_success();
    out.assert_stdout_has(&format!("verified the projections against {events} events"));
    out.assert_stdout_has(": 0 difference(s)");
    let requests = scalar(&app.db, "SELECT count(*) FROM service_requests").await;
    assert!(requests > 0);
    out.assert_stdout_has(&format!(
        "service_requests: {requests} live rows, {requests} rebuilt rows"
    ));
    assert_same(&before, &snapshot(&app.db).await);
    assert_eq!(catalog(&app.db).await, catalog_before);
    assert_eq!(leftovers(&app.db).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_table_key_and_column_of_a_changed_value() {
    let line =
        format!(r#"service_requests id={SR_QUEUED}: status: live "recalled" | rebuilt "active""#);
    let (app, out) = assert_verify_finds(
        &[format!(
            "UPDATE service_requests SET status = 'recalled' WHERE id = '{SR_QUEUED}'"
        )],
        &[&line, ": 1 difference(s)"],
    )
    .await;
    out.assert_stderr_has("the projections differ from the event log in 1 row(s)");
    // Verify only reads: the live row stays as it was, and the aside copy is gone.
    let row = app.current("service_requests", SR_QUEUED).await.unwrap();
    assert_eq!(row["status"], "recalled");
    assert_eq!(leftovers(&app.db).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_missing_and_unexplained_rows() {
    // The reject's history row disappears; a feed record nobody's event explains appears.
    let forged = Uuid::new_v4();
    let changes = [
        format!(
            "DELETE FROM status_history WHERE entity_id = '{MR_NEW}' AND sequence = 2 \
             AND attribute = 'status'"
        ),
        format!(
            "INSERT INTO status_change_events (id, event_type, entity_type, entity_id, properties, \
             event_time, changed_by, global_position, sequence) \
             SELECT '{forged}', event_type, entity_type, entity_id, properties, event_time, \
             changed_by, global_position, 99 FROM status_change_events WHERE entity_id = '{MR_NEW}'"
        ),
    ];
    let missing = format!(
        "status_history entity_type=MergeRequest entity_id={MR_NEW} sequence=2 attribute=status: \
         missing from the live table; rebuilt: "
    );
    let extra = format!("status_change_events id={forged}: not implied by the event log; live: ");
    let found = [
        missing.as_str(),
        r#""new_value":"REJECTED""#,
        &extra,
        ": 2 difference(s)",
    ];
    assert_verify_finds(&changes, &found).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ignores_when_feed_records_were_written() {
    let app = populated(0).await;
    let changed = execute(
        &app.db,
        "UPDATE status_change_events SET inserted_at = '2000-01-01T00:00:00.000000Z'",
    )
    .await;
    assert!(changed > 0);

    projections_verify(&app).await.assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_compares_documents_too() {
    let set = if sqlite_backend() {
        "json_set(document, '$.record.other.details', json('[]'))"
    } else {
        "jsonb_set(document, '{record,other,details}', '[]')"
    };
    let change =
        format!("UPDATE device_dispenses SET document = {set} WHERE id = '{DD_IN_PROGRESS}'");
    let prefix = format!("device_dispenses id={DD_IN_PROGRESS}: document: live ");
    assert_verify_finds(&[change], &[&prefix, ": 1 difference(s)"]).await;
}
