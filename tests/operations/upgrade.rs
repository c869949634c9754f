//! Upgrading a database that already holds events: a migration that adds what the projections
//! keep fills it in from the log, so the live tables agree with a rebuild without one.

use serde_json::json;

use crate::process::{projections_verify, run};
use crate::support::world::*;
use crate::support::{execute, select, TestApp};

/// A database as it was before the releasing legal entities were kept: the migration's columns
/// and index gone, the documents without the list, the migration not recorded.
async fn as_before_released_by_was_kept(app: &TestApp) {
    let statements: &[&str] = if crate::support::sqlite_backend() {
        &[
            "DROP INDEX approvals_granted_to_idx",
            "ALTER TABLE parties DROP COLUMN verification_status",
            "ALTER TABLE parties DROP COLUMN death_date",
            "ALTER TABLE service_requests DROP COLUMN released_by_legal_entity_ids",
            "UPDATE service_requests SET document = json_remove(document, '$.record.released_by')",
            "DELETE FROM _sqlx_migrations WHERE version = 5",
        ]
    } else {
        &[
            "DROP INDEX approvals_granted_to_idx",
            "ALTER TABLE parties DROP COLUMN verification_status, DROP COLUMN death_date",
            "ALTER TABLE service_requests DROP COLUMN released_by_legal_entity_ids",
            "UPDATE service_requests SET document = document #- '{record,released_by}'",
            "DELETE FROM _sqlx_migrations WHERE version = 13",
        ]
    };
    for statement in statements {
        execute(&app.db, statement).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_fills_in_the_legal_entities_that_released_a_service_request_from_the_log() {
    let app = TestApp::spawn().await;
    let doctor = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let other = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    for (id, token) in [(SR_QUEUED, &doctor), (SR_USED_BY_OTHER, &other)] {
        let reply = app.release(id, token).await;
        let job = app.wait_job(&reply.job_href(), token).await;
        assert_eq!(job.status, 303, "{:#}", job.body);
    }
    app.running.shutdown.cancel();
    as_before_released_by_was_kept(&app).await;

    run(&["migrate"], &app.database_url, 60)
        .await
        .assert_success();

    // A new connection: the service's pool holds statements prepared on the old table shape.
    let db = crate::support::service::connect(&app.database_url, 1).await;
    let row = |id: uuid::Uuid| {
        let db = db.clone();
        async move {
            select(
                &db,
                &format!(
                    "SELECT released_by_legal_entity_ids, document FROM service_requests \
                     WHERE id = '{id}'"
                ),
            )
            .await
            .remove(0)
        }
    };
    assert_eq!(
        row(SR_QUEUED).await["released_by_legal_entity_ids"],
        json!([LE_MAIN])
    );
    let used = row(SR_USED_BY_OTHER).await;
    assert_eq!(used["released_by_legal_entity_ids"], json!([LE_OTHER]));
    assert_eq!(used["document"]["record"]["released_by"], json!([LE_OTHER]));
    assert_eq!(
        row(SR_ACTIVE).await["released_by_legal_entity_ids"],
        json!([])
    );
    // What the migration wrote is exactly what a rebuild computes.
    projections_verify(&app).await.assert_success();
}
