//! `ehealth-es migrate`: applies pending migrations and exits; a second run is a no-op.

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::process::*;
use crate::support;

/// A database that exists but holds nothing (not copied from the migrated template).
async fn empty_database() -> String {
    let name = format!("ehealth_bin_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&support::admin_url()).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    database_url(&name)
}

fn migration_files() -> i64 {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations folder")
        .filter(|e| {
            e.as_ref()
                .map(|e| e.path().extension().is_some_and(|x| x == "sql"))
                .unwrap_or(false)
        })
        .count() as i64
}

const TABLES: [&str; 10] = [
    "events",
    "processed_commands",
    "subscriber_checkpoints",
    "legal_entities",
    "service_requests",
    "approvals",
    "status_history",
    "status_change_events",
    "jobs",
    "sms_outbox",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_on_an_empty_database_creates_the_schema_and_a_second_run_is_a_no_op() {
    let url = empty_database().await;
    let out = run(&["migrate"], &[("DATABASE_URL", &url)]).await;
    out.assert_success();
    assert!(out.stdout.contains("migrations applied"), "{out:#?}");

    let pool = pool(&url).await;
    let applied = scalar(&pool, "SELECT count(*) FROM _sqlx_migrations WHERE success").await;
    assert_eq!(applied, migration_files());
    for table in TABLES {
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(exists, "table {table}");
    }
    let checksums = json_rows(&pool, "SELECT version, checksum FROM _sqlx_migrations").await;

    let again = run(&["migrate"], &[("DATABASE_URL", &url)]).await;
    again.assert_success();
    assert_eq!(
        json_rows(&pool, "SELECT version, checksum FROM _sqlx_migrations").await,
        checksums
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_on_a_migrated_database_exits_0_and_changes_nothing() {
    let url = database_url(&support::fresh_database().await);
    let pool = pool(&url).await;
    let before = json_rows(&pool, "SELECT version, checksum FROM _sqlx_migrations").await;
    let out = run(&["migrate"], &[("DATABASE_URL", &url)]).await;
    out.assert_success();
    assert_eq!(
        json_rows(&pool, "SELECT version, checksum FROM _sqlx_migrations").await,
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_serve_migrate_an_empty_database_first() {
    let url = empty_database().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(dir.path(), "empty.json", &serde_json::json!({}));
    let out = run(
        &["import", file.to_str().unwrap()],
        &[("DATABASE_URL", &url)],
    )
    .await;
    out.assert_success();
    let imported = pool(&url).await;
    assert_eq!(
        scalar(&imported, "SELECT count(*) FROM _sqlx_migrations").await,
        migration_files()
    );

    let url = empty_database().await;
    let media = tempfile::tempdir().unwrap();
    let server = Server::start(&url, media.path(), true).await;
    let served = pool(&url).await;
    assert_eq!(
        scalar(&served, "SELECT count(*) FROM _sqlx_migrations").await,
        migration_files()
    );
    drop(server);
}

/// Without `DATABASE_URL` the embedded default is migrated: a SQLite file under `./data/`.
#[tokio::test]
async fn migrate_without_a_database_url_creates_the_embedded_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::process::run_in(dir.path(), &["migrate"], &[]).await;
    out.assert_success();
    let file = dir.path().join("data/ehealth.db");
    assert!(file.exists(), "{out:#?}");
    let lite = sqlx::sqlite::SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&lite)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count() as i64;
    assert_eq!(applied, files);
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'jobs', 'service_requests')",
    )
    .fetch_one(&lite)
    .await
    .unwrap();
    assert_eq!(tables, 3);
}

#[tokio::test]
async fn migrate_against_an_unreachable_database_fails_with_an_error() {
    let out = run(
        &["migrate"],
        &[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere")],
    )
    .await;
    out.assert_failure();
    assert!(out.stderr.contains("error"), "{out:#?}");
}
