//! The floor: single-row INSERT transactions of an events-shaped row, one per transaction, on the
//! same database the service uses — what PostgreSQL itself can do here. `pgbench` drives it for
//! the headline ratio; the benchmark's own client (sqlx, the service's driver) drives it too, as
//! a second reference: it costs more CPU per insert than pgbench, so it leaves less of the machine
//! to PostgreSQL and gives roughly half of pgbench's rate on two cores.

use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::stats::Samples;

pub struct RawResult {
    pub inserts_per_second: f64,
    pub p99_ms: f64,
}

/// What pgbench reported.
#[derive(Debug, Clone, Copy)]
pub struct Pgbench {
    /// Transactions (inserts) per second, without the connections' set-up.
    pub tps: f64,
    /// Its clients' mean latency.
    pub latency_ms: f64,
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
        p99_ms: all.percentile_ms(99.0),
    })
}

/// The same INSERT driven by `pgbench -n -M prepared -c <clients> -j <min(clients, 2)> -T
/// <seconds>` on an emptied, checkpointed table. `None` when pgbench is not found (it ships with
/// the PostgreSQL server packages, beside `initdb`) or fails.
pub async fn pgbench(url: &str, clients: usize, duration: Duration) -> Option<Pgbench> {
    let binary = pgbench_binary()?;
    let script = std::env::temp_dir().join(format!("ehealth-bench-raw-{}.sql", std::process::id()));
    // Variables given with -D are sent as parameters of the prepared statement.
    std::fs::write(
        &script,
        "INSERT INTO bench_raw_events VALUES ('ServiceRequest', gen_random_uuid()::text, 1, \
         'ServiceRequestReleased', '1.0', :payload::jsonb, :metadata::jsonb);\n",
    )
    .ok()?;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .ok()?;
    sqlx::query("TRUNCATE bench_raw_events")
        .execute(&pool)
        .await
        .ok()?;
    sqlx::query("CHECKPOINT").execute(&pool).await.ok()?;
    pool.close().await;
    let output = tokio::process::Command::new(binary)
        .args(["-n", "-M", "prepared", "-c"])
        .arg(clients.to_string())
        .arg("-j")
        .arg(clients.clamp(1, 2).to_string())
        .arg("-T")
        .arg(duration.as_secs().max(1).to_string())
        .arg("-D")
        .arg(format!("payload={PAYLOAD}"))
        .arg("-D")
        .arg(format!("metadata={METADATA}"))
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .await
        .ok()?;
    let _ = std::fs::remove_file(&script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        eprintln!(
            "  pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        return None;
    }
    parse_pgbench(&stdout)
}

/// tps and mean latency from pgbench's summary.
fn parse_pgbench(stdout: &str) -> Option<Pgbench> {
    let number_after = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    Some(Pgbench {
        tps: number_after("tps = ")?,
        latency_ms: number_after("latency average = ").unwrap_or(0.0),
    })
}

fn pgbench_binary() -> Option<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("pgbench"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin/pgbench"))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        found.pop()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_latency_are_read_from_pgbench_s_summary() {
        let out = "number of transactions actually processed: 186350\nlatency average = 3.431 ms\n\
                   initial connection time = 12.345 ms\ntps = 18635.123456 (without initial connection time)\n";
        let p = parse_pgbench(out).unwrap();
        assert_eq!(p.tps, 18635.123456);
        assert_eq!(p.latency_ms, 3.431);
        assert!(parse_pgbench("pgbench: error").is_none());
    }
}
