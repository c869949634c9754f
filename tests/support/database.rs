//! Databases for tests, on the backend under test: on PostgreSQL a fresh database per test, copied
//! from a template migrated once per test process; on SQLite a fresh file in a folder of its own.
//! And backend-neutral SQL to read (or damage) what the service stored: rows come back as JSON
//! objects shaped as PostgreSQL's `row_to_json` renders them, whichever backend holds them.

use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Column, Connection, PgConnection, Row, TypeInfo, ValueRef};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::service::{self, Db, Pool};
use super::sqlite_backend;

/// A database of its own for a test, on the backend under test: its URL (`postgres://…/<fresh
/// database>` or `sqlite://<temporary folder>/ehealth.db`) and, on SQLite, the folder that holds
/// the file (removed when this is dropped). Dereferences to the URL.
pub struct TestDb {
    pub url: String,
    pub dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestDb {
    type Target = str;

    fn deref(&self) -> &str {
        &self.url
    }
}

impl TestDb {
    /// A fresh, migrated, empty database.
    pub async fn fresh() -> TestDb {
        if sqlite_backend() {
            let (db, dir) = fresh_sqlite().await;
            db.close().await;
            TestDb {
                url: sqlite_url(&dir),
                dir: Some(dir),
            }
        } else {
            TestDb {
                url: url_for(&fresh_database().await),
                dir: None,
            }
        }
    }

    /// A database that holds nothing, not even the schema: on PostgreSQL an empty database, on
    /// SQLite a path in an empty folder (the file does not exist yet).
    pub async fn unmigrated() -> TestDb {
        if sqlite_backend() {
            let dir = tempfile::tempdir().expect("sqlite folder");
            TestDb {
                url: sqlite_url(&dir),
                dir: Some(dir),
            }
        } else {
            let name = format!("ehealth_bin_{}", Uuid::new_v4().simple());
            admin_execute(&format!("CREATE DATABASE {name}")).await;
            TestDb {
                url: url_for(&name),
                dir: None,
            }
        }
    }

    /// A small pool on the database, to read (or damage) its state.
    pub async fn connect(&self) -> Db {
        service::connect(&self.url, 2).await
    }
}

/// The URL of the database file in `dir`.
pub fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("ehealth.db").display())
}

/// A fresh, migrated SQLite database in a folder of its own (removed when the folder is dropped).
pub async fn fresh_sqlite() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("sqlite folder");
    let db = service::connect(&sqlite_url(&dir), 8).await;
    service::migrate(&db).await;
    (db, dir)
}

/// The PostgreSQL server the tests use (`EHEALTH_TEST_DATABASE_URL`, an admin URL).
pub fn admin_url() -> String {
    std::env::var("EHEALTH_TEST_DATABASE_URL").expect(
        "EHEALTH_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
    )
}

/// The URL of database `db` on the test server.
pub fn url_for(db: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin.rsplit_once('/').expect("admin URL names a database");
    format!("{base}/{db}")
}

async fn admin_execute(sql: &str) {
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("admin connection");
    sqlx::query(sql)
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database migrated once per test process; every test copies it.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = format!(
                "ehealth_tpl_{}_{}",
                std::process::id(),
                Uuid::new_v4().simple()
            );
            admin_execute(&format!("CREATE DATABASE {name}")).await;
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url_for(&name))
                .await
                .expect("template connection");
            service::migrate(&pool.clone().into()).await;
            pool.close().await;
            name
        })
        .await
}

/// A fresh, migrated, empty PostgreSQL database; returns its name.
pub async fn fresh_database() -> String {
    let template = template().await;
    let name = format!("ehealth_t_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("admin connection");
    // Copying a template is refused while another session touches it: retried briefly.
    for attempt in 0.. {
        match sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut admin)
            .await
        {
            Ok(_) => break,
            Err(_) if attempt < 50 => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("create test database: {e}"),
        }
    }
    name
}

/// Rows of a query without binds as JSON objects, on either backend (PostgreSQL's `row_to_json`;
/// on SQLite [`sqlite_row_json`], with `::text` casts and `e.tx_id, ` in an ORDER BY dropped:
/// its uuids are text already and its positions are commit order).
pub async fn select(db: &Db, sql: &str) -> Vec<Value> {
    match service::pool(db) {
        Pool::Postgres(pool) => {
            sqlx::query_scalar(&format!("SELECT row_to_json(t) FROM ({sql}) t"))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
        Pool::Sqlite(pool) => {
            let sql = sql.replace("::text", "").replace("e.tx_id, ", "");
            sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(sqlite_row_json)
                .collect()
        }
    }
}

/// Rows of a query with one uuid bind (`$1`) as JSON objects, on either backend. On SQLite a
/// `$1::text` cast is dropped (its uuids are text).
pub async fn select_by_id(db: &Db, sql: &str, id: Uuid) -> Vec<Value> {
    match service::pool(db) {
        Pool::Postgres(pool) => {
            sqlx::query_scalar(&format!("SELECT row_to_json(t) FROM ({sql}) t"))
                .bind(id)
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
        Pool::Sqlite(pool) => sqlx::query(&sql.replace("$1::text", "$1"))
            .bind(id.to_string())
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(sqlite_row_json)
            .collect(),
    }
}

/// The single integer a query answers (`count(*)` and the like), on either backend.
pub async fn count(db: &Db, sql: &str) -> i64 {
    match service::pool(db) {
        Pool::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The text values of a one-column query, on either backend.
pub async fn strings(db: &Db, sql: &str) -> Vec<String> {
    match service::pool(db) {
        Pool::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        Pool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs a statement without binds on either backend; returns the rows it changed.
pub async fn execute(db: &Db, sql: &str) -> u64 {
    match service::pool(db) {
        Pool::Postgres(pool) => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        Pool::Sqlite(pool) => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Columns that hold JSON text on SQLite (jsonb on PostgreSQL).
const JSON_COLUMNS: &[&str] = &[
    "released_by_legal_entity_ids",
    "payload",
    "metadata",
    "document",
    "status_reason",
    "properties",
    "links",
    "response_data",
    "error",
    "params",
    "response",
    "authentication_methods",
    "values",
    "value",
];

/// One SQLite row as PostgreSQL's `row_to_json` renders the same row (JSON columns as JSON,
/// instants as `…+00:00`, blobs as `\\x…`).
pub fn sqlite_row_json(row: &sqlx::sqlite::SqliteRow) -> Value {
    let mut object = serde_json::Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        let raw = row.try_get_raw(i).expect("column");
        let value = if raw.is_null() {
            Value::Null
        } else {
            match raw.type_info().name() {
                "INTEGER" => Value::from(row.get::<i64, _>(i)),
                "REAL" => Value::from(row.get::<f64, _>(i)),
                "BLOB" => Value::from(format!("\\x{}", hex::encode(row.get::<Vec<u8>, _>(i)))),
                _ => {
                    let text: String = row.get(i);
                    if JSON_COLUMNS.contains(&name) {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    } else {
                        Value::String(pg_instant(&text).unwrap_or(text))
                    }
                }
            }
        };
        object.insert(name.to_string(), value);
    }
    Value::Object(object)
}

/// `2026-01-02T03:04:05.120000Z` (SQLite's instants) as PostgreSQL's JSON renders a timestamptz:
/// `2026-01-02T03:04:05.12+00:00`.
fn pg_instant(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let shaped = text.len() == 27
        && text.ends_with('Z')
        && bytes[10] == b'T'
        && bytes[19] == b'.'
        && text[..4].bytes().all(|b| b.is_ascii_digit());
    if !shaped {
        return None;
    }
    let fraction = text[20..26].trim_end_matches('0');
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    Some(format!("{}{fraction}+00:00", &text[..19]))
}
