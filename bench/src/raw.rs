//! The physical floor: single-row INSERT transactions of an events-shaped row, one per
//! transaction, on the same database the service uses — what PostgreSQL itself can do here.

use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::stats::Samples;

pub struct RawResult {
    pub inserts_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

const PAYLOAD: &str = r#"{"ServiceRequestReleased":{"released_employee":"00000000-0000-4000-8000-000000003001","released_legal_entity":"00000000-0000-4000-8000-000000001001","by":"00000000-0000-4000-8000-000000002001","at":"2026-11-23T05:20:13.479971Z","note":"padding to an events-shaped payload of about three hundred bytes of json text"}}"#;
const METADATA: &str = r#"{"user_id":"00000000-0000-4000-8000-000000002001","client_id":"00000000-0000-4000-8000-000000001001","request_id":"r"}"#;

pub async fn prepare(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_raw_events (aggregate_type text, aggregate_id text, \
         sequence bigint, event_type text, event_version text, payload jsonb, metadata jsonb, \
         PRIMARY KEY (aggregate_type, aggregate_id, sequence))",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// `clients` connections inserting for `duration`; one row per autocommit transaction.
pub async fn run(url: &str, clients: usize, duration: Duration) -> anyhow::Result<RawResult> {
    let pool = PgPoolOptions::new()
        .max_connections(clients as u32)
        .connect(url)
        .await?;
    sqlx::query("TRUNCATE bench_raw_events")
        .execute(&pool)
        .await?;
    sqlx::query("CHECKPOINT").execute(&pool).await?;
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                sqlx::query(
                    "INSERT INTO bench_raw_events VALUES ('ServiceRequest', $1, 1, \
                     'ServiceRequestReleased', '1.0', $2::jsonb, $3::jsonb)",
                )
                .bind(uuid::Uuid::new_v4().to_string())
                .bind(PAYLOAD)
                .bind(METADATA)
                .execute(&pool)
                .await?;
                samples.push(t.elapsed());
            }
            anyhow::Ok(samples)
        }));
    }
    let mut all = Samples::default();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(RawResult {
        inserts_per_second: all.len() as f64 / elapsed,
        p50_ms: all.percentile_ms(50.0),
        p99_ms: all.percentile_ms(99.0),
    })
}
