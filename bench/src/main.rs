//! `ehealth-bench`: loads the real service over loopback HTTP with a mix of the five actions at
//! several concurrencies and, in the same run and on the same database, measures raw PostgreSQL
//! single-row INSERT transactions — the physical floor of one durable append — so the report can
//! give their ratio. Run it with `scripts/bench.sh`.

mod cpu;
mod dataset;
mod http;
mod load;
mod raw;
mod rebuild;
mod service;
mod statements;
mod stats;
mod wal;

#[path = "../../tests/support/pki.rs"]
mod pki;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use dataset::{Kind, Sizes};

#[derive(Debug, Parser)]
#[command(
    name = "ehealth-bench",
    about = "Benchmark ehealth-es against raw PostgreSQL inserts, side by side"
)]
struct Args {
    /// A PostgreSQL superuser URL; the benchmark creates its own database there.
    #[arg(long, env = "EHEALTH_BENCH_DATABASE_URL")]
    admin_url: String,
    /// Concurrencies to measure, comma-separated.
    #[arg(long, default_value = "1,16,64")]
    clients: String,
    /// Seconds per measured point.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of the same load before each service point, not counted: the point then measures
    /// the steady state, with the connections opened, the caches filled and the full-page writes
    /// that follow the raw points' checkpoints behind it.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Fresh entities per one-shot action (release, stop, reject).
    #[arg(long, default_value_t = 30_000)]
    per_action: usize,
    /// Service requests to recall (each needs a signature made before the timed run).
    #[arg(long, default_value_t = 1_500)]
    recalls: usize,
    /// The service's connection pool size.
    #[arg(long, default_value_t = 64)]
    pool_size: u32,
    /// The ehealth-es binary (default: next to this one).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Also write the report (Markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// After each service point, print the N statements that took the most database time during
    /// it (needs `pg_stat_statements` loaded: scripts/bench.sh does that).
    #[arg(long, default_value_t = 0)]
    statements: usize,
    /// Before timing `projections rebuild`, grow the event log to this many events with entity
    /// histories appended through the service's own `persist` (0: rebuild the log as it is).
    #[arg(long, default_value_t = 0)]
    rebuild_events: u64,
    /// Time the rebuild this many times (on the same log) and report each run and the median.
    #[arg(long, default_value_t = 1)]
    rebuild_runs: usize,
    /// Tasks appending one entity history per commit throughout each timed rebuild.
    #[arg(long, default_value_t = 0)]
    rebuild_appenders: usize,
    /// After the timed rebuilds, run `projections verify` and `audit verify`.
    #[arg(long)]
    rebuild_check: bool,
    /// Only the rebuild measurement: no data set, no service, no load.
    #[arg(long)]
    rebuild_only: bool,
    /// With --rebuild-only: use this database (created if missing, kept afterwards) instead of a
    /// new one, so a grown log can be measured again without growing it again.
    #[arg(long)]
    database: Option<String>,
    /// Write every request of each service point (start µs, latency µs, action, status) to
    /// DIR/trace-c<clients>.csv, to see when the slow ones happened.
    #[arg(long)]
    trace: Option<PathBuf>,
}

const JWT_SECRET: &str = "bench-secret";

/// WAL written before the timed points (wal.rs): more than all of them write together.
const PRIMED_WAL_MIB: i32 = 1024;

fn database_url(admin: &str, db: &str) -> String {
    match admin.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => format!("{admin}/{db}"),
    }
}

/// Signs recalls of the active service requests as their requester, before the timed run.
async fn presign(
    base: &str,
    token: &str,
    count: usize,
    signer: &pki::TestSigner,
) -> anyhow::Result<Vec<(uuid::Uuid, String)>> {
    let client = reqwest::Client::new();
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let sr = dataset::id(Kind::ActiveServiceRequest, n);
        let doc: Value = client
            .get(format!(
                "{base}/api/patients/{}/service_requests/{sr}",
                dataset::PATIENT
            ))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        let mut content = doc["data"].clone();
        content["status_reason"] = json!({ "coding": [ { "system": "eHealth/service_request_recall_reasons", "code": "1" } ] });
        let signed = signer.sign(serde_json::to_vec(&content)?.as_slice());
        out.push((sr, json!({ "signed_data": signed }).to_string()));
    }
    Ok(out)
}

async fn scalar_f64(
    conn: &mut PgConnection,
    sql: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> f64 {
    sqlx::query_scalar::<_, Option<f64>>(sql)
        .bind(since)
        .fetch_one(conn)
        .await
        .ok()
        .flatten()
        .unwrap_or(0.0)
}

struct Row {
    clients: usize,
    raw_per_s: f64,
    raw_p99: f64,
    pgbench_per_s: Option<f64>,
    actions_per_s: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    ok: usize,
    rule_409: usize,
    errors: usize,
    job_p50: f64,
    job_p99: f64,
    lag_max: i64,
    lag_mean: f64,
    /// "release 14.1 / 30.2 (8312)" per action: p50 / p99 ms (requests).
    by_action: Vec<String>,
    /// WAL segment files created during the point (each one zero-filled while commits wait).
    new_segments: Option<i64>,
    cpu: cpu::PerAction,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let clients: Vec<usize> = args
        .clients
        .split(',')
        .map(|c| c.trim().parse())
        .collect::<Result<_, _>>()?;
    let duration = Duration::from_secs(args.seconds);
    let binary = args
        .binary
        .clone()
        .unwrap_or_else(|| service::sibling_binary("ehealth-es"));
    anyhow::ensure!(
        binary.exists(),
        "{} not found: build it with `cargo build --release`",
        binary.display()
    );

    let rebuild_plan = rebuild::Plan {
        events: args.rebuild_events,
        runs: args.rebuild_runs,
        appenders: args.rebuild_appenders,
        check: args.rebuild_check,
    };
    if args.rebuild_only {
        return rebuild_only(&args, &binary, &rebuild_plan).await;
    }

    let db = format!(
        "ehealth_bench_{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    );
    let mut admin = PgConnection::connect(&args.admin_url).await?;
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut admin)
        .await?;
    let url = database_url(&args.admin_url, &db);
    let pool = ehealth_es::db::connect(&url, 16).await?;
    ehealth_es::db::migrate(&pool).await?;
    raw::prepare(&pool).await?;

    let sizes = Sizes {
        per_action: args.per_action,
        recalls: args.recalls,
        approvals: 2_000,
        violations: 500,
    };
    eprintln!(
        "importing the data set ({} one-shot entities per action)…",
        sizes.per_action
    );
    // Before the import as well: it writes much WAL too, and is timed.
    prime_wal(&url).await?;
    let t = Instant::now();
    let created = dataset::import(&pool, sizes, 8).await?;
    let import_rate = created as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "imported {created} entities in {:.1} s ({import_rate:.0}/s)",
        t.elapsed().as_secs_f64()
    );
    // The import wrote every table at once; left to autovacuum, its passes over them would run
    // during the first points (at 1 client they took more CPU than the service).
    let t = Instant::now();
    sqlx::query("VACUUM (ANALYZE)").execute(&pool).await?;
    eprintln!("vacuumed in {:.1} s", t.elapsed().as_secs_f64());

    let ca = pki::TestCa::new("ehealth-bench root");
    let signer = ca.issue_signer_ec(dataset::DOCTOR_TAX_ID, "Bench Doctor");
    let work = std::env::temp_dir().join(&db);
    std::fs::create_dir_all(&work)?;
    let anchors = work.join("anchors.pem");
    pki::write_signature_trust(&ca, &anchors);
    let svc = service::Service::start(
        &binary,
        &url,
        JWT_SECRET,
        &anchors,
        &work.join("media"),
        args.pool_size,
    )
    .await?;

    let keys = ehealth_es::auth::TokenKeys::new(JWT_SECRET.as_bytes());
    let scopes =
        "service_request:use service_request:recall service_request:read merge_request:write \
                  device_dispense:stop approval:create job:read";
    let doctor = keys.mint(dataset::U_DOCTOR, dataset::LE, scopes, 86_400);
    let specialist = keys.mint(dataset::U_SPECIALIST, dataset::LE, scopes, 86_400);
    eprintln!("signing {} recalls…", sizes.recalls);
    let recalls = presign(&svc.base, &doctor, sizes.recalls, &signer).await?;
    let plan = Arc::new(load::Plan::new(
        svc.base.clone(),
        doctor.clone(),
        specialist,
        sizes,
        recalls,
    ));

    let mut rows = Vec::new();
    let mut conn = PgConnection::connect(&url).await?;
    prime_wal(&url).await?;
    for &c in &clients {
        eprintln!("c={c}: raw inserts…");
        let raw = raw::run(&url, c, duration).await?;
        eprintln!("c={c}: raw inserts with pgbench…");
        let pgbench_per_s = raw::pgbench(&url, c, duration).await;
        if args.warmup > 0 {
            eprintln!("c={c}: warm-up…");
            load::run(plan.clone(), c, Duration::from_secs(args.warmup)).await;
        }
        eprintln!(
            "c={c}: service… ({})",
            chrono::Utc::now().format("%H:%M:%S%.3f")
        );
        let since = chrono::Utc::now();
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (url, sampling) = (url.clone(), sampling.clone());
            tokio::spawn(async move {
                let mut conn = PgConnection::connect(&url).await.ok()?;
                let mut lags = Vec::new();
                while sampling.load(Ordering::Relaxed) {
                    if let Ok(lag) =
                        ehealth_es::store::postgres::feed::lag(&mut conn, "effects").await
                    {
                        lags.push(lag);
                    }
                    // Counting the lag costs the database a walk over the lagging events:
                    // sampled twice a second, so the measurement does not load what it measures.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Some(lags)
            })
        };
        if args.statements > 0 {
            statements::reset(&mut conn).await;
        }
        let segments_before = wal::segments(&mut conn).await;
        let cpu_before = cpu::read(svc.pid());
        let started = Instant::now();
        let mut tally = load::run(plan.clone(), c, duration).await;
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu::per_action(cpu_before, cpu::read(svc.pid()), tally.total());
        let new_segments = segments_before
            .zip(wal::segments(&mut conn).await)
            .map(|(before, after)| after - before);
        if args.statements > 0 {
            statements::print(&mut conn, c, args.statements, tally.total()).await;
        }
        sampling.store(false, Ordering::Relaxed);
        let lags = sampler.await.ok().flatten().unwrap_or_default();
        // Let the workers finish what was accepted before reading job latencies.
        let drain = Instant::now();
        while drain.elapsed() < Duration::from_secs(60) {
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'pending'")
                    .fetch_one(&mut conn)
                    .await?;
            if pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let job_ms = "SELECT percentile_cont($P) WITHIN GROUP (ORDER BY extract(epoch FROM updated_at - inserted_at) * 1000) \
                      FROM jobs WHERE status = 'processed' AND inserted_at >= $1";
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
        rows.push(Row {
            by_action,
            new_segments,
            cpu,
            clients: c,
            raw_per_s: raw.inserts_per_second,
            pgbench_per_s,
            raw_p99: raw.p99_ms,
            actions_per_s: tally.total() as f64 / elapsed,
            p50: tally.latencies.percentile_ms(50.0),
            p99: tally.latencies.percentile_ms(99.0),
            p999: tally.latencies.percentile_ms(99.9),
            ok: tally.ok,
            rule_409: tally.rule_409,
            errors: tally.errors,
            job_p50: scalar_f64(&mut conn, &job_ms.replace("$P", "0.5"), since).await,
            job_p99: scalar_f64(&mut conn, &job_ms.replace("$P", "0.99"), since).await,
            lag_max: lags.iter().copied().max().unwrap_or(0),
            lag_mean: if lags.is_empty() {
                0.0
            } else {
                lags.iter().sum::<i64>() as f64 / lags.len() as f64
            },
        });
        for e in &tally.error_examples {
            eprintln!("  error example: {e}");
        }
        if let Some(dir) = &args.trace {
            write_trace(dir, c, &tally.trace)?;
        }
        let _ = raw.p50_ms;
    }

    eprintln!("hot entities, 16 clients…");
    let users: Vec<String> = (0..16)
        .map(|_| keys.mint(Uuid::new_v4(), dataset::LE, scopes, 86_400))
        .collect();
    let mut hot = load::run_hot(&svc.base, &users, duration).await;
    let hot_rate = hot.total() as f64 / duration.as_secs_f64();
    for e in &hot.error_examples {
        eprintln!("  hot error example: {e}");
    }
    let rss = svc.peak_rss_mib();
    svc.stop().await;

    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut conn)
        .await?;
    let rebuild = match rebuild::measure(&binary, &url, &pool, &rebuild_plan).await {
        Ok(lines) => lines.join("\n"),
        Err(e) => format!("rebuild: not available ({e})"),
    };

    let mut report = String::new();
    report.push_str(&format!(
        "ehealth-bench — {} s per point (after {} s of warm-up), {} events in the log at the end, service pool {}\n\n",
        args.seconds, args.warmup, events, args.pool_size
    ));
    report.push_str("| clients | raw inserts/s | raw p99 ms | pgbench inserts/s | actions/s | ratio to raw | ratio to pgbench | p50 ms | p99 ms | p99.9 ms | 2xx | rule 409 | errors | job p50 ms | job p99 ms | feed lag max / mean |\n");
    report.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in &rows {
        let (pgbench, to_pgbench) = match r.pgbench_per_s {
            Some(tps) => (
                format!("{tps:.0}"),
                format!("{:.0} %", 100.0 * r.actions_per_s / tps.max(1.0)),
            ),
            None => ("n/a".into(), "n/a".into()),
        };
        report.push_str(&format!(
            "| {} | {:.0} | {:.2} | {} | {:.0} | {:.0} % | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {:.1} | {:.1} | {} / {:.1} |\n",
            r.clients, r.raw_per_s, r.raw_p99, pgbench, r.actions_per_s, 100.0 * r.actions_per_s / r.raw_per_s.max(1.0),
            to_pgbench, r.p50, r.p99, r.p999, r.ok, r.rule_409, r.errors, r.job_p50, r.job_p99, r.lag_max, r.lag_mean
        ));
    }
    report.push_str("\nlatency by action, p50 / p99 ms (requests):\n");
    for r in &rows {
        report.push_str(&format!(
            "- {} clients: {}\n",
            r.clients,
            r.by_action.join(", ")
        ));
    }
    report.push_str(
        "\nCPU per action, ms (service / PostgreSQL / load generator), and how busy the machine was:\n",
    );
    for r in &rows {
        report.push_str(&format!(
            "- {} clients: {:.3} / {:.3} / {:.3}, machine {:.0} % busy\n",
            r.clients, r.cpu.service_ms, r.cpu.postgres_ms, r.cpu.generator_ms, r.cpu.busy_percent
        ));
    }
    report.push_str(&format!(
        "\nWAL segments created during the service points (zero-filled while commits wait; {PRIMED_WAL_MIB} MiB of WAL written before them to be reused): {}\n",
        rows.iter()
            .map(|r| format!(
                "{} clients {}",
                r.clients,
                r.new_segments.map_or("n/a".into(), |n| n.to_string())
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    report.push_str(&format!(
        "\nhot entities (16 clients on 2 approvals + 2 dispenses): {:.0} req/s, {} 2xx, {} rule 409, {} errors, p99 {:.2} ms\n",
        hot_rate, hot.ok, hot.rule_409, hot.errors, hot.latencies.percentile_ms(99.0)
    ));
    report.push_str(&format!(
        "peak service RSS: {}\n",
        rss.map_or("n/a".into(), |m| format!("{m:.1} MiB"))
    ));
    report.push_str(&format!(
        "import: {created} entities at {import_rate:.0}/s through commands\n"
    ));
    report.push_str(&format!("{rebuild}\n"));
    println!("{report}");
    if let Some(out) = args.out {
        std::fs::write(out, &report)?;
    }
    Ok(())
}

/// `--rebuild-only`: the rebuild measurement on a database of its own (or the one named by
/// `--database`, kept for the next run).
async fn rebuild_only(
    args: &Args,
    binary: &std::path::Path,
    plan: &rebuild::Plan,
) -> anyhow::Result<()> {
    let db = args.database.clone().unwrap_or_else(|| {
        format!(
            "ehealth_rebuild_{}",
            chrono::Utc::now().format("%Y%m%d%H%M%S")
        )
    });
    let mut admin = PgConnection::connect(&args.admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&db)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE DATABASE {}", quote_db(&db)))
            .execute(&mut admin)
            .await?;
    }
    let url = database_url(&args.admin_url, &db);
    let pool = ehealth_es::db::connect(&url, 8).await?;
    ehealth_es::db::migrate(&pool).await?;
    let lines = rebuild::measure(binary, &url, &pool, plan).await?;
    let mut report = format!("ehealth-bench --rebuild-only, database {db}\n\n");
    for line in lines {
        report.push_str(&line);
        report.push('\n');
    }
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report)?;
    }
    Ok(())
}

fn write_trace(
    dir: &std::path::Path,
    clients: usize,
    trace: &[(u64, u64, &'static str, u16)],
) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(
        dir.join(format!("trace-c{clients}.csv")),
    )?);
    writeln!(out, "start_us,latency_us,action,status")?;
    for (start, latency, action, status) in trace {
        writeln!(out, "{start},{latency},{action},{status}")?;
    }
    Ok(())
}

/// Writes WAL for the timed work that follows to reuse (wal.rs); a server that refuses (no
/// superuser) is measured as it is.
async fn prime_wal(url: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(url).await?;
    match wal::prime(&mut conn, PRIMED_WAL_MIB).await {
        Ok(secs) => eprintln!("wrote {PRIMED_WAL_MIB} MiB of WAL in {secs:.1} s, to be reused"),
        Err(e) => {
            eprintln!("could not prime the WAL ({e}): WAL segments may be created while timed")
        }
    }
    Ok(())
}

/// A database name as an SQL identifier.
fn quote_db(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
