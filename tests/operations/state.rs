//! A populated database and snapshots of every projection table, to compare before and after, on
//! the backend under test.

use crate::support::service::{self, Db, Pool};
use serde_json::Value;

use crate::generate;
use crate::support::world::*;
use crate::support::{self, TestApp};

pub use ehealth_projections::TABLES;

/// The world, one of every action over HTTP, and `generated` events through `persist`.
pub async fn populate(app: &TestApp, generated: u64) {
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let specialist = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let release = app.release(SR_QUEUED, &token).await;
    app.wait_job(&release.job_href(), &token).await;
    let stop = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .await;
    app.wait_job(&stop.job_href(), &token).await;
    let reject = app.reject_merge_request(MR_NEW, &specialist).await;
    assert_eq!(reject.status, 200, "{:#}", reject.body);
    for _ in 0..2 {
        let resend = app.resend_otp(P_OTP, AP_OTP, &token).await;
        app.wait_job(&resend.job_href(), &token).await;
    }
    if generated > 0 {
        generate::generate(&app.db, generated).await;
    }
}

/// A service whose database [`populate`] filled.
pub async fn populated(generated: u64) -> TestApp {
    let app = TestApp::spawn().await;
    populate(&app, generated).await;
    app
}

/// Makes a hand-made change to the database and asserts it touched exactly `rows` rows.
pub async fn change(db: &Db, sql: &str, rows: u64) {
    assert_eq!(
        support::execute(db, sql).await,
        rows,
        "rows changed by {sql}"
    );
}

/// Every row of every projection table, as JSON, in a stable order. `status_change_events.
/// inserted_at` (when the row was written) is left out: a rebuild writes it anew by design.
pub async fn snapshot(db: &Db) -> Vec<(&'static str, Vec<Value>)> {
    let mut tables = Vec::new();
    for table in TABLES {
        let mut rows: Vec<Value> = match service::pool(db) {
            Pool::Postgres(pool) => sqlx::query_scalar(&format!(
                "SELECT to_jsonb(t) FROM {table} t ORDER BY t::text"
            ))
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("snapshot of {table}: {e}")),
            Pool::Sqlite(_) => {
                let mut rows = support::select(db, &format!("SELECT * FROM {table}")).await;
                rows.sort_by_cached_key(Value::to_string);
                rows
            }
        };
        if table == "status_change_events" {
            for row in &mut rows {
                row.as_object_mut().map(|r| r.remove("inserted_at"));
            }
        }
        tables.push((table, rows));
    }
    tables
}

#[track_caller]
pub fn assert_same(before: &[(&str, Vec<Value>)], after: &[(&str, Vec<Value>)]) {
    for ((table, a), (_, b)) in before.iter().zip(after) {
        assert_eq!(a.len(), b.len(), "row count of {table}");
        for (x, y) in a.iter().zip(b) {
            assert_eq!(x, y, "a row of {table}");
        }
    }
}

/// Table, name and definition of every index and constraint of the projection tables.
pub async fn catalog(db: &Db) -> Vec<(String, String, String)> {
    match service::pool(db) {
        Pool::Postgres(pool) => sqlx::query_as(
            "SELECT tablename::text, indexname::text, indexdef FROM pg_indexes \
             WHERE schemaname = 'public' AND tablename = ANY($1) \
             UNION ALL \
             SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
             WHERE conrelid::regclass::text = ANY($1) \
             ORDER BY 1, 2, 3",
        )
        .bind(&TABLES[..])
        .fetch_all(pool)
        .await
        .expect("catalog"),
        // The tables' own definitions hold their keys and checks; indexes are objects of their own.
        Pool::Sqlite(lite) => {
            let names = TABLES.map(|t| format!("'{t}'")).join(", ");
            sqlx::query_as(&format!(
                "SELECT tbl_name, name, coalesce(sql, '') FROM sqlite_master \
                 WHERE tbl_name IN ({names}) ORDER BY 1, 2, 3"
            ))
            .fetch_all(lite)
            .await
            .expect("catalog")
        }
    }
}

/// What a rebuild or verify could leave behind. PostgreSQL: schemas other than the system ones and
/// `public` (the aside schemas). SQLite: objects of the database file that a freshly migrated
/// database does not have (verify's copies must be TEMP tables of its own connection).
pub async fn leftovers(db: &Db) -> Vec<String> {
    match service::pool(db) {
        Pool::Postgres(pool) => sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') \
             AND nspname NOT LIKE 'pg\\_%' ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .expect("schemas"),
        Pool::Sqlite(_) => {
            let sql = "SELECT type || ' ' || name FROM sqlite_master ORDER BY 1";
            let (fresh, _dir) = support::fresh_sqlite().await;
            let expected = support::strings(&fresh, sql).await;
            support::strings(db, sql)
                .await
                .into_iter()
                .filter(|o| !expected.contains(o))
                .collect()
        }
    }
}

pub async fn scalar(db: &Db, sql: &str) -> i64 {
    support::count(db, sql).await
}

/// [`scalar`] of a query written for PostgreSQL whose only difference on SQLite is `::text` casts
/// (SQLite's uuids are text already).
pub async fn scalar_neutral(db: &Db, sql: &str) -> i64 {
    match service::pool(db) {
        Pool::Postgres(_) => scalar(db, sql).await,
        Pool::Sqlite(_) => scalar(db, &sql.replace("::text", "")).await,
    }
}

/// The number in `stdout` just before `suffix` (e.g. "… from 1234 events").
pub fn number_before(stdout: &str, suffix: &str) -> u64 {
    let at = stdout
        .find(suffix)
        .unwrap_or_else(|| panic!("{suffix:?} in {stdout}"));
    stdout[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number before {suffix:?} in {stdout}"))
}
