//! A populated database and snapshots of every projection table, to compare before and after.

use serde_json::Value;
use sqlx::PgPool;

use crate::generate;
use crate::support::world::*;
use crate::support::TestApp;

pub use ehealth_projections::TABLES;

/// The world, one of every action over HTTP, and `generated` events through `persist`.
pub async fn populate(app: &TestApp, generated: u64) {
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let specialist = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let release = app
        .patch(
            &format!("/api/service_requests/{SR_QUEUED}/actions/release"),
            Some(&token),
            None,
        )
        .await;
    app.wait_job(&release.job_href(), &token).await;
    let stop = app
        .patch(
            &format!("/api/patients/{P_OTP}/device_dispenses/{DD_IN_PROGRESS}/actions/stop"),
            Some(&token),
            None,
        )
        .await;
    app.wait_job(&stop.job_href(), &token).await;
    let reject = app
        .patch(
            &format!("/api/merge_requests/{MR_NEW}/actions/reject"),
            Some(&specialist),
            None,
        )
        .await;
    assert_eq!(reject.status, 200, "{:#}", reject.body);
    for _ in 0..2 {
        let resend = app
            .patch(
                &format!("/api/patients/{P_OTP}/approvals/{AP_OTP}/actions/resend"),
                Some(&token),
                None,
            )
            .await;
        app.wait_job(&resend.job_href(), &token).await;
    }
    if generated > 0 {
        generate::generate(&app.pool, generated).await;
    }
}

/// Every row of every projection table, as JSON, in a stable order. `status_change_events.
/// inserted_at` (when the row was written) is left out: a rebuild writes it anew by design.
pub async fn snapshot(pool: &PgPool) -> Vec<(&'static str, Vec<Value>)> {
    let mut tables = Vec::new();
    for table in TABLES {
        let mut rows: Vec<Value> = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(t) FROM {table} t ORDER BY t::text"
        ))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("snapshot of {table}: {e}"));
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

/// Name, table and definition of every index and constraint of the projection tables.
pub async fn catalog(pool: &PgPool) -> Vec<(String, String, String)> {
    sqlx::query_as(
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
    .expect("catalog")
}

/// Schemas other than the system ones and `public` (a rebuild or verify must leave none).
pub async fn extra_schemas(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') \
         AND nspname NOT LIKE 'pg\\_%' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("schemas")
}

pub async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
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
