//! Databases with the service's schema for the crate's tests: an in-memory SQLite database, and a
//! database of its own on the test PostgreSQL server (`EHEALTH_TEST_DATABASE_URL`, as the
//! black-box suites; `scripts/test.sh` sets it).

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

/// A fresh in-memory SQLite database (one connection: each connection to `sqlite::memory:` is a
/// database of its own).
pub(crate) async fn sqlite() -> SqlitePool {
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite");
    sqlx::migrate!("../migrations/sqlite")
        .run(&pool)
        .await
        .expect("SQLite migrations");
    pool
}

/// A fresh PostgreSQL database, migrated.
pub(crate) async fn postgres() -> PgPool {
    let admin = std::env::var("EHEALTH_TEST_DATABASE_URL").expect(
        "EHEALTH_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
    );
    let name = format!("ehealth_projections_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("admin connection");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (base, _) = admin.rsplit_once('/').expect("admin URL names a database");
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&format!("{base}/{name}"))
        .await
        .expect("connect");
    sqlx::migrate!("../migrations/postgres")
        .run(&pool)
        .await
        .expect("PostgreSQL migrations");
    pool
}
