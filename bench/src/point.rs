//! One measured point: pgbench's inserts at the point's concurrency, right before it on the same
//! server; then the service under one scenario's load — a warm-up, not counted, and the timed
//! part — with the CPU it cost, the WAL segments it created, the effects worker's feed lag (read
//! from the service's own `/metrics`), and, once the workers are idle again, the latency of the
//! jobs it started.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::{Connection as _, PgConnection};

use crate::http::Connection;
use crate::load::{self, Tally};
use crate::raw::{self, Pgbench};
use crate::release;
use crate::{cpu, statements, wal};

/// The load of a point.
pub enum Load {
    /// The five actions mixed, with requests that break a rule on purpose.
    Mix(Arc<load::Plan>),
    /// Releases of distinct service requests of the imported pool.
    Release(Arc<release::Pool>),
}

impl Load {
    pub fn name(&self) -> &'static str {
        match self {
            Load::Mix(_) => "mix",
            Load::Release(_) => "release",
        }
    }

    /// Runs `clients` clients for `duration`: what they saw, for how long, and whether the
    /// release pool ran out meanwhile.
    async fn run(&self, clients: usize, duration: Duration) -> (Tally, f64, bool) {
        match self {
            Load::Mix(plan) => {
                let started = Instant::now();
                let tally = load::run(plan.clone(), clients, duration).await;
                (tally, started.elapsed().as_secs_f64(), false)
            }
            Load::Release(pool) => {
                let out = release::run(pool.clone(), clients, duration).await;
                (out.tally, out.elapsed.as_secs_f64(), out.exhausted)
            }
        }
    }
}

/// What a point measured.
pub struct Point {
    pub scenario: &'static str,
    pub clients: usize,
    /// pgbench's run right before the point; `None` when pgbench is not installed or failed.
    pub pgbench: Option<Pgbench>,
    pub seconds: f64,
    pub actions_per_s: f64,
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
    pub ok: usize,
    pub rule_409: usize,
    pub errors: usize,
    /// "release 14.1 / 30.2 (8312)" per action: p50 / p99 ms (requests).
    pub by_action: Vec<String>,
    /// Milliseconds from a job's creation to its processing: p50, p99.
    pub job_ms: Option<(f64, f64)>,
    /// The effects worker's lag in events, as `/metrics` gave it during the point: max, mean.
    pub lag: Option<(i64, f64)>,
    /// WAL segment files created during the point (each one zero-filled while commits wait).
    pub new_segments: Option<i64>,
    pub cpu: cpu::PerAction,
    /// The release pool ran out during the point: it is shorter than asked.
    pub exhausted: bool,
}

impl Point {
    /// The service's actions per pgbench insert, both measured here.
    pub fn to_pgbench(&self) -> Option<f64> {
        self.pgbench
            .as_ref()
            .map(|p| self.actions_per_s / p.tps.max(1.0))
    }
}

/// Where points are measured.
pub struct Bench {
    pub url: String,
    pub base: String,
    pub service_pid: Option<u32>,
    pub warmup: Duration,
    pub statements: usize,
    pub trace: Option<PathBuf>,
}

impl Bench {
    /// pgbench at `clients` for `duration`, then `load` at `clients`: `warmup`, then `duration`.
    pub async fn point(
        &self,
        load: &Load,
        clients: usize,
        duration: Duration,
    ) -> anyhow::Result<Point> {
        let name = load.name();
        eprintln!("{name} c={clients}: pgbench inserts…");
        let pgbench = raw::pgbench(&self.url, clients, duration).await;
        if !self.warmup.is_zero() {
            eprintln!("{name} c={clients}: warm-up…");
            load.run(clients, self.warmup).await;
        }
        eprintln!("{name} c={clients}: service…");
        let mut conn = PgConnection::connect(&self.url).await?;
        let since = chrono::Utc::now();
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = tokio::spawn(sample_lag(self.base.clone(), sampling.clone()));
        if self.statements > 0 {
            statements::reset(&mut conn).await;
        }
        let segments_before = wal::segments(&mut conn).await;
        let cpu_before = cpu::read(self.service_pid);
        let (mut tally, seconds, exhausted) = load.run(clients, duration).await;
        let cpu = cpu::per_action(cpu_before, cpu::read(self.service_pid), tally.total());
        let new_segments = segments_before
            .zip(wal::segments(&mut conn).await)
            .map(|(before, after)| after - before);
        if self.statements > 0 {
            statements::print(&mut conn, clients, self.statements, tally.total()).await;
        }
        sampling.store(false, Ordering::Relaxed);
        let lags = sampler.await.unwrap_or_default();
        drain(&mut conn).await?;
        for e in &tally.error_examples {
            eprintln!("  error example: {e}");
        }
        if exhausted {
            eprintln!("  the release pool ran out after {seconds:.1} s: raise --release-pool");
        }
        if let Some(dir) = &self.trace {
            write_trace(dir, name, clients, &tally.trace)?;
        }
        let by_action = tally
            .by_action
            .iter_mut()
            .map(|(action, samples)| {
                format!(
                    "{action} {:.1} / {:.1} ({})",
                    samples.percentile_ms(50.0),
                    samples.percentile_ms(99.0),
                    samples.len()
                )
            })
            .collect();
        Ok(Point {
            scenario: name,
            clients,
            pgbench,
            seconds,
            actions_per_s: tally.total() as f64 / seconds.max(1e-9),
            p50: tally.latencies.percentile_ms(50.0),
            p99: tally.latencies.percentile_ms(99.0),
            p999: tally.latencies.percentile_ms(99.9),
            ok: tally.ok,
            rule_409: tally.rule_409,
            errors: tally.errors,
            by_action,
            job_ms: job_latency(&mut conn, since).await,
            lag: (!lags.is_empty()).then(|| {
                let max = lags.iter().copied().max().unwrap_or(0);
                (max, lags.iter().sum::<i64>() as f64 / lags.len() as f64)
            }),
            new_segments,
            cpu,
            exhausted,
        })
    }
}

/// Reads `ehealth_feed_lag_events` from the service's `/metrics` twice a second until `sampling`
/// is cleared. The service reads the lag itself every two seconds, so sampling it costs the
/// database nothing more.
async fn sample_lag(base: String, sampling: Arc<AtomicBool>) -> Vec<i64> {
    let mut conn = Connection::new(&base);
    let mut lags = Vec::new();
    while sampling.load(Ordering::Relaxed) {
        if let Ok(answer) = conn.send("GET", "/metrics", "", None).await {
            lags.extend(gauge(
                &String::from_utf8_lossy(&answer.body),
                "ehealth_feed_lag_events",
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    lags
}

/// The value of an unlabelled gauge in an OpenMetrics text.
fn gauge(text: &str, name: &str) -> Option<i64> {
    text.lines()
        .filter_map(|l| l.strip_prefix(name))
        .find_map(|rest| rest.strip_prefix(' '))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as i64)
}

/// Waits (at most a minute) until no job is pending: what the point accepted is processed.
async fn drain(conn: &mut PgConnection) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'pending'")
            .fetch_one(&mut *conn)
            .await?;
        if pending == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("  jobs still pending after a minute");
    Ok(())
}

/// p50 and p99 of the time from a job's creation to its processing, over the jobs created since.
async fn job_latency(
    conn: &mut PgConnection,
    since: chrono::DateTime<chrono::Utc>,
) -> Option<(f64, f64)> {
    sqlx::query_as::<_, (Option<f64>, Option<f64>)>(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) \
         FROM (SELECT extract(epoch FROM updated_at - inserted_at)::float8 * 1000 AS ms \
               FROM jobs WHERE status = 'processed' AND inserted_at >= $1) j",
    )
    .bind(since)
    .fetch_one(conn)
    .await
    .ok()
    .and_then(|(p50, p99)| p50.zip(p99))
}

fn write_trace(
    dir: &std::path::Path,
    scenario: &str,
    clients: usize,
    trace: &[(u64, u64, &'static str, u16)],
) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(
        dir.join(format!("trace-{scenario}-c{clients}.csv")),
    )?);
    writeln!(out, "start_us,latency_us,action,status")?;
    for (start, latency, action, status) in trace {
        writeln!(out, "{start},{latency},{action},{status}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gauge_is_read_by_its_exact_name() {
        let text = "# TYPE ehealth_feed_lag_events gauge\nehealth_feed_lag_events_x 9\nehealth_feed_lag_events 42\n# EOF\n";
        assert_eq!(gauge(text, "ehealth_feed_lag_events"), Some(42));
        assert_eq!(gauge("# EOF\n", "ehealth_feed_lag_events"), None);
    }
}
