//! The rebuild measurement: grows the event log to a given size with whole entity histories
//! appended through the service's own `persist` (hash chains, live projections, everything the service writes for an event), then
//! times `ehealth-es projections rebuild` as a child process, optionally while appenders keep
//! appending commands' worth of events, and optionally checks the result with
//! `projections verify` and `audit verify`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::persist::PersistedEventRepository;
use ehealth_aggregates::ServiceRequest;
use ehealth_es::db::Db;
use ehealth_es::store::EventRepository;
use sqlx::PgPool;

use ehealth_es::store::histories::{self, Cast, UNIT};

use crate::dataset::{E_DOCTOR, LE, PATIENT, U_DOCTOR, U_SPECIALIST};

/// The generated histories' entities belong to the data set's legal entity and patient.
const CAST: Cast = Cast {
    legal_entity: LE,
    patient: PATIENT,
    patient_phone: "+380931234585",
    doctor_employee: E_DOCTOR,
    doctor_user: U_DOCTOR,
    specialist_user: U_SPECIALIST,
    requisition: "BENCH-0001",
};

/// Units per append transaction while the log grows (a few hundred events per commit).
const UNITS_PER_COMMIT: u64 = 10;

async fn count_events(pool: &PgPool) -> anyhow::Result<u64> {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(n as u64)
}

/// Appends whole units through `persist` until the log holds at least `target` events, with two
/// concurrent writers; returns how many events were appended. The log is then vacuumed, analyzed
/// and checkpointed, as autovacuum and the checkpointer would have left a log that grew over
/// months, so that none of that work lands in the timed rebuild.
pub async fn grow(pool: &PgPool, target: u64) -> anyhow::Result<u64> {
    let have = count_events(pool).await?;
    if have >= target {
        return Ok(0);
    }
    let units = (target - have).div_ceil(UNIT);
    let started = Instant::now();
    let task = tokio::spawn(histories::append(
        Db::Postgres(pool.clone()),
        CAST,
        units,
        UNITS_PER_COMMIT,
    ));
    let mut last_report = Instant::now();
    while !task.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!("  … {} events", count_events(pool).await?);
            last_report = Instant::now();
        }
    }
    task.await??;
    let appended = units * UNIT;
    eprintln!(
        "appended {appended} events through persist in {:.1} s ({:.0}/s); vacuuming and checkpointing…",
        started.elapsed().as_secs_f64(),
        appended as f64 / started.elapsed().as_secs_f64()
    );
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::query("VACUUM (ANALYZE)").execute(&mut *conn).await?;
    Ok(appended)
}

/// One timed `projections rebuild`.
pub struct Run {
    pub line: String,
    pub events: u64,
    pub seconds: f64,
    pub held_ms: u64,
    /// Appends made by the concurrent appenders during the run, and their slowest latency.
    pub appends: u64,
    pub slowest_append_ms: f64,
}

impl Run {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.seconds.max(1e-9)
    }
}

/// The number before `marker` in `line` (`… from 1000000 events in …`).
fn number_before(line: &str, marker: &str) -> Option<f64> {
    let before = &line[..line.find(marker)?];
    before.split_whitespace().last()?.parse().ok()
}

/// Runs `ehealth-es <args>` and returns its stdout, or an error with its stderr.
async fn command(binary: &Path, url: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(binary)
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    anyhow::ensure!(
        output.status.success(),
        "ehealth-es {} failed: {}{}",
        args.join(" "),
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(stdout)
}

/// Appends one entity history per commit (a command's worth: one to three events) until `stop`,
/// measuring each commit; returns how many commits and the slowest.
async fn append_until(pool: PgPool, stop: Arc<AtomicBool>) -> anyhow::Result<(u64, f64)> {
    let repo = EventRepository::new(Db::Postgres(pool), Arc::new(tokio::sync::Notify::new()));
    let (mut commits, mut slowest) = (0u64, 0f64);
    'outer: loop {
        for history in CAST.unit() {
            if stop.load(Ordering::Relaxed) {
                break 'outer;
            }
            let t = Instant::now();
            repo.persist::<ServiceRequest>(&history, None)
                .await
                .map_err(|e| anyhow::anyhow!("appending during the rebuild: {e}"))?;
            slowest = slowest.max(t.elapsed().as_secs_f64() * 1e3);
            commits += 1;
        }
    }
    Ok((commits, slowest))
}

/// Times `projections rebuild` once, with `appenders` tasks appending throughout.
pub async fn run_once(
    binary: &Path,
    url: &str,
    pool: &PgPool,
    appenders: usize,
) -> anyhow::Result<Run> {
    // What autovacuum does after a rebuild (analyze and vacuum the new tables), done before
    // the run, so that runs do not share their cores with the previous run's autovacuum; then
    // a checkpoint, so that the run does not start with one half done.
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "VACUUM (ANALYZE) service_requests, merge_requests, device_dispenses, approvals, \
         status_history, status_change_events",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("CHECKPOINT").execute(&mut *conn).await?;
    drop(conn);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..appenders)
        .map(|_| tokio::spawn(append_until(pool.clone(), stop.clone())))
        .collect();
    let out = command(binary, url, &["projections", "rebuild"]).await;
    stop.store(true, Ordering::Relaxed);
    let (mut appends, mut slowest_append_ms) = (0, 0f64);
    for task in tasks {
        let (n, slowest) = task.await??;
        appends += n;
        slowest_append_ms = slowest_append_ms.max(slowest);
    }
    let line = out?
        .lines()
        .find(|l| l.contains("events/s"))
        .unwrap_or("no rate printed")
        .to_string();
    let parse = |marker| {
        number_before(&line, marker)
            .ok_or_else(|| anyhow::anyhow!("unexpected rebuild output: {line}"))
    };
    Ok(Run {
        events: parse(" events in")? as u64,
        seconds: parse(" s (")?,
        held_ms: parse(" ms")? as u64,
        line,
        appends,
        slowest_append_ms,
    })
}

/// What the rebuild measurement was asked to do.
pub struct Plan {
    pub events: u64,
    pub runs: usize,
    pub appenders: usize,
    pub check: bool,
}

impl Plan {
    pub fn from_args(args: &crate::args::Args) -> Self {
        Self {
            events: args.rebuild_events,
            runs: args.rebuild_runs,
            appenders: args.rebuild_appenders,
            check: args.rebuild_check,
        }
    }
}

/// `--rebuild-only`: the rebuild measurement on a database of its own (or the one named by
/// `--database`, kept for the next run), migrated by `ehealth-es migrate`.
pub async fn only(
    args: &crate::args::Args,
    admin_url: &str,
    binary: &Path,
) -> anyhow::Result<String> {
    use sqlx::Connection;
    let db = args.database.clone().unwrap_or_else(|| {
        format!(
            "ehealth_rebuild_{}",
            chrono::Utc::now().format("%Y%m%d%H%M%S")
        )
    });
    let mut admin = sqlx::PgConnection::connect(admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&db)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {}", crate::setup::quote_db(&db)))
            .execute(&mut admin)
            .await?;
    }
    let url = crate::setup::database_url(admin_url, &db);
    command(binary, &url, &["migrate"]).await?;
    let pool = crate::setup::connect(&url, 8).await?;
    let lines = measure(binary, &url, &pool, &Plan::from_args(args)).await?;
    let mut report = format!("ehealth-bench --rebuild-only, database {db}\n\n");
    for line in lines {
        report.push_str(&line);
        report.push('\n');
    }
    Ok(report)
}

/// Grows the log, times the rebuilds and returns the report's lines.
pub async fn measure(
    binary: &Path,
    url: &str,
    pool: &PgPool,
    plan: &Plan,
) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    if plan.events > 0 {
        eprintln!("growing the event log to {} events…", plan.events);
        let t = Instant::now();
        let appended = grow(pool, plan.events).await?;
        if appended > 0 {
            lines.push(format!(
                "log grown by {appended} events through persist in {:.1} s",
                t.elapsed().as_secs_f64()
            ));
        }
    }
    let payload: Option<i64> =
        sqlx::query_scalar("SELECT avg(octet_length(payload::text))::bigint FROM events")
            .fetch_one(pool)
            .await?;
    let mut runs = Vec::new();
    for n in 1..=plan.runs {
        eprintln!("rebuild {n}…");
        let run = run_once(binary, url, pool, plan.appenders).await?;
        eprintln!("  {}", run.line);
        runs.push(run);
    }
    for run in &runs {
        let mut line = format!(
            "rebuild: {} events in {:.2} s ({:.0} events/s); appends were held for {} ms",
            run.events,
            run.seconds,
            run.rate(),
            run.held_ms
        );
        if plan.appenders > 0 {
            line.push_str(&format!(
                "; {} appenders made {} commits meanwhile, the slowest in {:.0} ms",
                plan.appenders, run.appends, run.slowest_append_ms
            ));
        }
        lines.push(line);
    }
    if runs.len() > 1 {
        let mut rates: Vec<f64> = runs.iter().map(Run::rate).collect();
        rates.sort_by(f64::total_cmp);
        lines.push(format!(
            "rebuild over {} runs: median {:.0} events/s (min {:.0}, max {:.0}), average payload {} bytes",
            rates.len(),
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            payload.unwrap_or(0)
        ));
    }
    if plan.check {
        eprintln!("verifying…");
        let verify = command(binary, url, &["projections", "verify"]).await?;
        lines.extend(verify.lines().last().map(|l| format!("verify: {l}")));
        eprintln!("audit verify…");
        let audit = command(binary, url, &["audit", "verify"]).await?;
        lines.extend(audit.lines().last().map(|l| format!("audit: {l}")));
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_from_the_rebuild_line() {
        let line = "rebuilt the projections from 100000 events in 1.96 s (51040 events/s); appends were held for 69 ms";
        assert_eq!(number_before(line, " events in"), Some(100000.0));
        assert_eq!(number_before(line, " s ("), Some(1.96));
        assert_eq!(number_before(line, " ms"), Some(69.0));
    }
}
