//! `ehealth-es migrate`: applies pending migrations and exits; a second run is a no-op. On the
//! backend under test: an empty PostgreSQL database, or a SQLite file that does not exist yet.

use crate::support::service::{self, Db, Pool};

use crate::process::*;
use crate::support::{self, TestDb};

/// The migration files of the backend under test.
fn migration_files() -> i64 {
    let dir = if support::sqlite_backend() {
        concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")
    } else {
        concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres")
    };
    std::fs::read_dir(dir)
        .expect("migrations folder")
        .filter(|e| {
            e.as_ref()
                .map(|e| e.path().extension().is_some_and(|x| x == "sql"))
                .unwrap_or(false)
        })
        .count() as i64
}

/// Whether `table` exists, in the backend's own catalog.
async fn table_exists(db: &Db, table: &str) -> bool {
    let sql = match service::pool(db) {
        Pool::Postgres(_) => format!("SELECT count(*) FROM pg_tables WHERE tablename = '{table}'"),
        Pool::Sqlite(_) => {
            format!("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
    };
    scalar(db, &sql).await == 1
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

/// Runs the `migrate` subcommand on the database at `url`.
async fn migrate(url: &str) -> Output {
    run(&["migrate"], &[("DATABASE_URL", url)]).await
}

/// Runs `migrate` on a migrated database: it succeeds and leaves every applied migration (and
/// its checksum) as it was.
async fn assert_migrate_changes_nothing(url: &str, pool: &Db) {
    let query = "SELECT version, checksum FROM _sqlx_migrations";
    let before = json_rows(pool, query).await;
    migrate(url).await.assert_success();
    assert_eq!(json_rows(pool, query).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_on_an_empty_database_creates_the_schema_and_a_second_run_is_a_no_op() {
    let url = TestDb::unmigrated().await;
    let out = migrate(&url).await;
    out.assert_success();
    assert!(out.stdout.contains("migrations applied"), "{out:#?}");

    let pool = pool(&url).await;
    let applied = scalar(&pool, "SELECT count(*) FROM _sqlx_migrations WHERE success").await;
    assert_eq!(applied, migration_files());
    assert!(applied > 0);
    for table in TABLES {
        assert!(table_exists(&pool, table).await, "table {table}");
    }
    assert!(!table_exists(&pool, "no_such_table").await);

    assert_migrate_changes_nothing(&url, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_on_a_migrated_database_exits_0_and_changes_nothing() {
    let url = TestDb::fresh().await;
    let pool = pool(&url).await;
    assert_migrate_changes_nothing(&url, &pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_and_serve_migrate_an_empty_database_first() {
    let url = TestDb::unmigrated().await;
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

    let url = TestDb::unmigrated().await;
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

/// PostgreSQL: nothing listens at the address. SQLite: the file cannot be created (its folder
/// would be inside a regular file).
#[tokio::test]
async fn migrate_against_an_unreachable_database_fails_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = if support::sqlite_backend() {
        std::fs::write(dir.path().join("file"), b"not a folder").unwrap();
        format!("sqlite://{}/file/data/ehealth.db", dir.path().display())
    } else {
        "postgres://postgres@127.0.0.1:1/nowhere".to_string()
    };
    let out = migrate(&url).await;
    out.assert_failure();
    assert!(out.stderr.contains("error"), "{out:#?}");
    assert!(!out.stdout.contains("migrations applied"), "{out:#?}");
}
