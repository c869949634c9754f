//! A full run: the data set, the service, then for each concurrency the benchmark's own insert
//! client, the mix and the release scenario (each point with its own pgbench run right before
//! it), the hot-entity case, the rebuild, and the report.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::args::{self, Args};
use crate::dataset::{self, Sizes};
use crate::point::{Bench, Load, Point};
use crate::report::{self, Extras, Meta};
use crate::{load, machine, pki, raw, rebuild, recalls, release, service, setup, wal};

const JWT_SECRET: &str = "bench-secret";
const SCOPES: &str = "service_request:use service_request:recall service_request:read \
                      merge_request:write device_dispense:stop approval:create job:read";

/// Writes `mib` MiB of WAL for the timed work that follows to reuse (wal.rs; by default more than
/// the points write together); a server that refuses (no superuser) is measured as it is.
async fn prime_wal(url: &str, mib: i32) -> anyhow::Result<()> {
    if mib <= 0 {
        return Ok(());
    }
    let mut conn = PgConnection::connect(url).await?;
    match wal::prime(&mut conn, mib).await {
        Ok(secs) => eprintln!("wrote {mib} MiB of WAL in {secs:.1} s, to be reused"),
        Err(e) => {
            eprintln!("could not prime the WAL ({e}): WAL segments may be created while timed")
        }
    }
    Ok(())
}

pub async fn full(args: &Args, admin_url: &str, binary: &Path) -> anyhow::Result<()> {
    let mix_clients = args::concurrencies(&args.clients)?;
    let release_clients = match &args.release_clients {
        Some(list) => args::concurrencies(list)?,
        None => mix_clients.clone(),
    };
    let duration = Duration::from_secs(args.seconds);
    let release_duration = Duration::from_secs(args.release_seconds);
    let load_before = machine::load_average();
    let load_1m_before = machine::load_1m();
    let date = chrono::Utc::now();

    let sizes = Sizes {
        per_action: args.per_action,
        recalls: args.recalls,
        approvals: 2_000,
        violations: 500,
        pool: if release_clients.is_empty() {
            0
        } else {
            args.release_pool
        },
    };
    let db = format!("ehealth_bench_{}", date.format("%Y%m%d%H%M%S"));
    let work = std::env::temp_dir().join(&db);
    std::fs::create_dir_all(&work)?;
    // The import writes much WAL too: it runs on reused segments as well.
    prime_wal(admin_url, args.prime_wal_mib).await?;
    let prepared = setup::database(
        binary,
        admin_url,
        &db,
        args.template.as_deref(),
        sizes,
        args.import_parallel,
        &work,
    )
    .await?;
    let url = prepared.url.clone();
    raw::prepare(&prepared.pool).await?;

    let ca = pki::TestCa::new("ehealth-bench root");
    let signer = ca.issue_signer_ec(dataset::DOCTOR_TAX_ID, "Bench Doctor");
    let anchors = work.join("anchors.pem");
    pki::write_signature_trust(&ca, &anchors);
    let svc = service::Service::start(
        binary,
        &url,
        JWT_SECRET,
        &anchors,
        &work.join("media"),
        args.pool_size,
    )
    .await?;

    let keys = ehealth_es::auth::TokenKeys::new(JWT_SECRET.as_bytes());
    let doctor = keys.mint(dataset::U_DOCTOR, dataset::LE, SCOPES, 86_400);
    let specialist = keys.mint(dataset::U_SPECIALIST, dataset::LE, SCOPES, 86_400);
    eprintln!("signing {} recalls…", sizes.recalls);
    let recalls = recalls::presign(
        &reqwest::Client::new(),
        &svc.base,
        &doctor,
        sizes.recalls,
        &signer,
    )
    .await?;
    let mix = Load::Mix(Arc::new(load::Plan::new(
        svc.base.clone(),
        doctor.clone(),
        specialist,
        sizes,
        recalls,
    )));
    let releases = Load::Release(Arc::new(release::Pool::new(
        svc.base.clone(),
        doctor,
        sizes.pool,
        args.release_seed,
    )));

    let bench = Bench {
        url: url.clone(),
        base: svc.base.clone(),
        service_pid: svc.pid(),
        warmup: Duration::from_secs(args.warmup),
        statements: args.statements,
        trace: args.trace.clone(),
    };
    let mut points: Vec<Point> = Vec::new();
    let mut extras = Extras::default();
    prime_wal(&url, args.prime_wal_mib).await?;
    let mut all_clients = mix_clients.clone();
    all_clients.extend(release_clients.iter().filter(|c| !mix_clients.contains(c)));
    all_clients.sort_unstable();
    for &c in &all_clients {
        eprintln!("c={c}: the benchmark's own insert client…");
        extras.raw.push((c, raw::run(&url, c, duration).await?));
        if mix_clients.contains(&c) {
            points.push(bench.point(&mix, c, duration).await?);
        }
        if release_clients.contains(&c) {
            points.push(bench.point(&releases, c, release_duration).await?);
        }
    }

    if args.hot_seconds > 0 {
        eprintln!("hot entities, 16 clients…");
        let users: Vec<String> = (0..16)
            .map(|_| keys.mint(Uuid::new_v4(), dataset::LE, SCOPES, 86_400))
            .collect();
        let seconds = Duration::from_secs(args.hot_seconds);
        let mut hot = load::run_hot(&svc.base, &users, seconds).await;
        for e in &hot.error_examples {
            eprintln!("  hot error example: {e}");
        }
        extras.hot = Some(format!(
            "hot entities (16 clients on 2 approvals + 2 dispenses, {} s): {:.0} req/s, {} 2xx, {} rule 409, {} errors, p99 {:.2} ms",
            args.hot_seconds,
            hot.total() as f64 / seconds.as_secs_f64(),
            hot.ok,
            hot.rule_409,
            hot.errors,
            hot.latencies.percentile_ms(99.0)
        ));
    }
    extras.rss_mib = svc.peak_rss_mib();
    svc.stop().await;

    let mut conn = PgConnection::connect(&url).await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut conn)
        .await?;
    let postgres: String = sqlx::query_scalar("SELECT version()")
        .fetch_one(&mut conn)
        .await?;
    let plan = rebuild::Plan::from_args(args);
    if plan.runs > 0 {
        extras.rebuild = match rebuild::measure(binary, &url, &prepared.pool, &plan).await {
            Ok(lines) => lines,
            Err(e) => vec![format!("rebuild: not available ({e})")],
        };
    }

    let meta = Meta {
        date: date.format("%Y-%m-%d %H:%M UTC").to_string(),
        commit: args.commit.clone(),
        cores: machine::cores(),
        model: machine::cpu_model(),
        load_before,
        load_after: machine::load_average(),
        load_1m_before,
        command: machine::command_line(),
        postgres: postgres
            .split(" on ")
            .next()
            .unwrap_or(&postgres)
            .to_string(),
        seconds: args.seconds,
        release_seconds: release_duration.as_secs(),
        warmup: args.warmup,
        pool_size: args.pool_size,
        release_pool: sizes.pool,
        primed_wal_mib: args.prime_wal_mib.max(0),
        dataset: prepared.origin.clone(),
        events,
    };
    let text = report::markdown(&meta, &points, &extras);
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text)?;
    }
    if let Some(out) = &args.json {
        std::fs::write(out, report::json(&meta, &points).to_string())?;
    }
    let _ = std::fs::remove_dir_all(&work);
    if !args.keep_database {
        prepared.pool.close().await;
        conn.close().await?;
        let mut admin = PgConnection::connect(admin_url).await?;
        sqlx::query(&format!(
            "DROP DATABASE {} WITH (FORCE)",
            setup::quote_db(&db)
        ))
        .execute(&mut admin)
        .await?;
    }
    Ok(())
}
