//! The command line of `ehealth-bench`.

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "ehealth-bench",
    about = "Benchmark ehealth-es against pgbench's inserts on the same PostgreSQL, in the same run"
)]
pub struct Args {
    /// A PostgreSQL superuser URL; the benchmark creates its own database there.
    #[arg(
        long,
        env = "EHEALTH_BENCH_DATABASE_URL",
        required_unless_present = "ab_summary"
    )]
    pub admin_url: Option<String>,
    /// Concurrencies of the mix, comma-separated.
    #[arg(long, default_value = "1,16,64")]
    pub clients: String,
    /// Concurrencies of the release scenario, comma-separated (default: those of the mix; "" for
    /// none).
    #[arg(long)]
    pub release_clients: Option<String>,
    /// Seconds per measured point of the mix.
    #[arg(long, default_value_t = 15)]
    pub seconds: u64,
    /// Seconds per measured point of the release scenario.
    #[arg(long, default_value_t = 15)]
    pub release_seconds: u64,
    /// Seconds of the same load before each service point, not counted: the point then measures
    /// the steady state, with the connections opened, the caches filled and the full-page writes
    /// that follow the insert points' checkpoints behind it.
    #[arg(long, default_value_t = 2)]
    pub warmup: u64,
    /// Fresh entities per one-shot action of the mix (release, stop, reject).
    #[arg(long, default_value_t = 30_000)]
    pub per_action: usize,
    /// Service requests the mix recalls (each needs a signature made before the timed run).
    #[arg(long, default_value_t = 1_500)]
    pub recalls: usize,
    /// Service requests imported for the release scenario, each released at most once.
    #[arg(long, default_value_t = 200_000)]
    pub release_pool: usize,
    /// Seed of the order in which the pool is released (the same seed, the same order).
    #[arg(long, default_value_t = 1)]
    pub release_seed: u64,
    /// `ehealth-es import` processes run at once on the parts of the data set.
    #[arg(long, default_value_t = 8)]
    pub import_parallel: usize,
    /// Keep the imported data set in this database and copy it for the run; a later run with the
    /// same name and the same sizes copies it instead of importing again. Name one per build of
    /// the service (its migrations made the schema).
    #[arg(long)]
    pub template: Option<String>,
    /// Keep the run's database afterwards (it is dropped by default).
    #[arg(long)]
    pub keep_database: bool,
    /// MiB of WAL written before the import and before the timed points, for them to run on
    /// reused segments as a running server does (bench/src/wal.rs); 0 skips it (a quick check).
    #[arg(long, default_value_t = 1024)]
    pub prime_wal_mib: i32,
    /// The service's connection pool size.
    #[arg(long, default_value_t = 64)]
    pub pool_size: u32,
    /// The ehealth-es binary (default: next to this one).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// What the report names as the build under test (scripts/bench.sh passes the commit).
    #[arg(long, env = "EHEALTH_BENCH_COMMIT", default_value = "unknown")]
    pub commit: String,
    /// Also write the report (Markdown) to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the points' figures as JSON to this file (scripts/bench-ab.sh reads them).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Summarize the JSON results of an A/B comparison in this folder (`A-1.json`, `B-1.json`, …)
    /// and exit.
    #[arg(long)]
    pub ab_summary: Option<PathBuf>,
    /// Seconds of the hot-entity case (16 clients on two approvals and two dispenses); 0 skips it.
    #[arg(long, default_value_t = 10)]
    pub hot_seconds: u64,
    /// After each service point, print the N statements that took the most database time during
    /// it (needs `pg_stat_statements` loaded: scripts/bench.sh does that).
    #[arg(long, default_value_t = 0)]
    pub statements: usize,
    /// Before timing `projections rebuild`, grow the event log to this many events with entity
    /// histories appended through the service's own `persist` (0: rebuild the log as it is).
    #[arg(long, default_value_t = 0)]
    pub rebuild_events: u64,
    /// Time the rebuild this many times (on the same log) and report each run and the median;
    /// 0 skips it.
    #[arg(long, default_value_t = 1)]
    pub rebuild_runs: usize,
    /// Tasks appending one entity history per commit throughout each timed rebuild.
    #[arg(long, default_value_t = 0)]
    pub rebuild_appenders: usize,
    /// After the timed rebuilds, run `projections verify` and `audit verify`.
    #[arg(long)]
    pub rebuild_check: bool,
    /// Only the rebuild measurement: no data set, no service, no load.
    #[arg(long)]
    pub rebuild_only: bool,
    /// With --rebuild-only: use this database (created if missing, kept afterwards) instead of a
    /// new one, so a grown log can be measured again without growing it again.
    #[arg(long)]
    pub database: Option<String>,
    /// Write every request of each service point (start µs, latency µs, action, status) to
    /// DIR/trace-<scenario>-c<clients>.csv, to see when the slow ones happened.
    #[arg(long)]
    pub trace: Option<PathBuf>,
}

/// A comma-separated list of concurrencies.
pub fn concurrencies(list: &str) -> anyhow::Result<Vec<usize>> {
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.parse()
                .map_err(|_| anyhow::anyhow!("not a number of clients: {c}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrencies_are_read_from_a_comma_separated_list() {
        assert_eq!(concurrencies("1, 16,64").unwrap(), vec![1, 16, 64]);
        assert!(concurrencies("").unwrap().is_empty());
        assert!(concurrencies("8,x").is_err());
    }
}
