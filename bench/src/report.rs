//! The report: where and how it was measured, the headline table (the service against pgbench,
//! point by point), the benchmark's own insert client as a second reference, then the details.
//! Also the same figures as JSON, for scripts/bench-ab.sh.

use serde_json::{json, Value};

use crate::point::Point;
use crate::raw::RawResult;

/// Where, when and how the run was made.
pub struct Meta {
    pub date: String,
    pub commit: String,
    pub cores: usize,
    pub model: String,
    pub load_before: String,
    pub load_after: String,
    pub load_1m_before: Option<f64>,
    pub command: String,
    pub postgres: String,
    pub seconds: u64,
    pub release_seconds: u64,
    pub warmup: u64,
    pub pool_size: u32,
    pub release_pool: usize,
    /// MiB of WAL written before the points (0: none).
    pub primed_wal_mib: i32,
    pub dataset: String,
    pub events: i64,
}

/// The measurements that are not points.
#[derive(Default)]
pub struct Extras {
    /// The benchmark's own client: (clients, result).
    pub raw: Vec<(usize, RawResult)>,
    pub hot: Option<String>,
    pub rss_mib: Option<f64>,
    pub rebuild: Vec<String>,
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or("n/a".into(), |r| format!("{:.0} %", 100.0 * r))
}

fn headline(points: &[Point]) -> String {
    let mut out = String::from(
        "| scenario | clients | pgbench inserts/s (mean latency ms) | actions/s | ratio to pgbench | p50 ms | p99 ms | p99.9 ms | 2xx | rule 409 | errors |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in points {
        out.push_str(&format!(
            "| {}{} | {} | {} | {:.0} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} |\n",
            p.scenario,
            if p.exhausted { " (pool ran out)" } else { "" },
            p.clients,
            p.pgbench.map_or("n/a".into(), |b| format!(
                "{:.0} ({:.2})",
                b.tps, b.latency_ms
            )),
            p.actions_per_s,
            percent(p.to_pgbench()),
            p.p50,
            p.p99,
            p.p999,
            p.ok,
            p.rule_409,
            p.errors
        ));
    }
    out
}

fn own_client(points: &[Point], raw: &[(usize, RawResult)]) -> String {
    let mut out = String::from(
        "| clients | own client inserts/s | own client p99 ms | mix / own client | release / own client |\n|---|---|---|---|---|\n",
    );
    let ratio = |scenario: &str, clients: usize, r: &RawResult| {
        percent(
            points
                .iter()
                .find(|p| p.scenario == scenario && p.clients == clients)
                .map(|p| p.actions_per_s / r.inserts_per_second.max(1.0)),
        )
    };
    for (clients, r) in raw {
        out.push_str(&format!(
            "| {clients} | {:.0} | {:.2} | {} | {} |\n",
            r.inserts_per_second,
            r.p99_ms,
            ratio("mix", *clients, r),
            ratio("release", *clients, r)
        ));
    }
    out
}

fn details(points: &[Point], primed_wal_mib: i32) -> String {
    let mut out = String::from("Latency by action, p50 / p99 ms (requests):\n\n");
    for p in points {
        out.push_str(&format!(
            "- {} at {} clients: {}\n",
            p.scenario,
            p.clients,
            p.by_action.join(", ")
        ));
    }
    out.push_str(
        "\nJobs (202 → processed) and the effects worker's feed lag (events, from `/metrics`):\n\n\
         | scenario | clients | job p50 ms | job p99 ms | feed lag max / mean |\n|---|---|---|---|---|\n",
    );
    for p in points {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            p.scenario,
            p.clients,
            p.job_ms.map_or("n/a".into(), |j| format!("{:.1}", j.0)),
            p.job_ms.map_or("n/a".into(), |j| format!("{:.1}", j.1)),
            p.lag
                .map_or("n/a".into(), |(max, mean)| format!("{max} / {mean:.1}"))
        ));
    }
    out.push_str(&format!(
        "\nCPU per action, ms (service / PostgreSQL / load generator), how busy the machine was, \
         and WAL segments created during the point ({}):\n\n",
        if primed_wal_mib > 0 {
            format!("0 expected: {primed_wal_mib} MiB of WAL were primed")
        } else {
            "the WAL was not primed".to_string()
        }
    ));
    for p in points {
        out.push_str(&format!(
            "- {} at {} clients: {:.3} / {:.3} / {:.3}, machine {:.0} % busy, {} new WAL segments\n",
            p.scenario,
            p.clients,
            p.cpu.service_ms,
            p.cpu.postgres_ms,
            p.cpu.generator_ms,
            p.cpu.busy_percent,
            p.new_segments.map_or("n/a".into(), |n| n.to_string())
        ));
    }
    out
}

/// The report in Markdown.
pub fn markdown(meta: &Meta, points: &[Point], extras: &Extras) -> String {
    let mut out = String::from("# ehealth-bench\n\n| | |\n|---|---|\n");
    for (key, value) in [
        ("date", meta.date.clone()),
        ("build", meta.commit.clone()),
        ("machine", format!("{} cores, {}", meta.cores, meta.model)),
        (
            "load average (1, 5, 15 min)",
            format!("before {}; after {}", meta.load_before, meta.load_after),
        ),
        ("PostgreSQL", meta.postgres.clone()),
        ("command", format!("`{}`", meta.command)),
        (
            "points",
            format!(
                "mix {} s, release {} s, each after {} s of warm-up; service pool {}",
                meta.seconds, meta.release_seconds, meta.warmup, meta.pool_size
            ),
        ),
        (
            "data set",
            format!(
                "{}; release pool {} service requests; {} events in the log at the end",
                meta.dataset, meta.release_pool, meta.events
            ),
        ),
    ] {
        out.push_str(&format!("| {key} | {value} |\n"));
    }
    out.push_str(
        "\n## The service against pgbench\n\npgbench inserts one events-shaped row per transaction \
         (`-M prepared`) into the same database, at the point's concurrency, right before the \
         point: the floor of one durable append on this server at this moment. The ratio is the \
         service's actions/s over pgbench's inserts/s.\n\n",
    );
    out.push_str(&headline(points));
    if !extras.raw.is_empty() {
        out.push_str(
            "\n## The benchmark's own insert client\n\nThe same INSERT from a Rust client on the \
             service's driver (sqlx), measured once per concurrency before the points: it spends \
             more CPU per insert than pgbench, so on a small machine it is slower. A second \
             reference only.\n\n",
        );
        out.push_str(&own_client(points, &extras.raw));
    }
    out.push_str("\n## Details\n\n");
    out.push_str(&details(points, meta.primed_wal_mib));
    out.push('\n');
    if let Some(hot) = &extras.hot {
        out.push_str(&format!("{hot}\n"));
    }
    out.push_str(&format!(
        "peak service RSS: {}\n",
        extras
            .rss_mib
            .map_or("n/a".into(), |m| format!("{m:.1} MiB"))
    ));
    for line in &extras.rebuild {
        out.push_str(&format!("{line}\n"));
    }
    out
}

/// The points as JSON (meta and one object per point).
pub fn json(meta: &Meta, points: &[Point]) -> Value {
    json!({
        "date": meta.date,
        "commit": meta.commit,
        "load_1m_before": meta.load_1m_before,
        "load_before": meta.load_before,
        "load_after": meta.load_after,
        "points": points.iter().map(|p| json!({
            "scenario": p.scenario,
            "clients": p.clients,
            "seconds": p.seconds,
            "pgbench_tps": p.pgbench.map(|b| b.tps),
            "pgbench_latency_ms": p.pgbench.map(|b| b.latency_ms),
            "actions_per_s": p.actions_per_s,
            "ratio_to_pgbench": p.to_pgbench(),
            "p50_ms": p.p50,
            "p99_ms": p.p99,
            "p999_ms": p.p999,
            "ok": p.ok,
            "rule_409": p.rule_409,
            "errors": p.errors,
            "exhausted": p.exhausted,
        })).collect::<Vec<_>>(),
    })
}
