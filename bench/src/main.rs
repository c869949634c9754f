//! `ehealth-bench`: loads the real service (the release binary, started as a child process) over
//! loopback HTTP at several concurrencies — a mix of the five actions, and releases of distinct
//! service requests among more than a hundred thousand imported — and measures, right before
//! each point, on the same server and the same database, `pgbench` inserting one events-shaped
//! row per transaction: the floor the report gives each point's ratio to. Run it with
//! `scripts/bench.sh`; compare two builds with `scripts/bench-ab.sh`; docs/benchmark.md says how
//! it measures.

mod ab;
mod args;
mod cpu;
mod dataset;
mod http;
mod load;
mod machine;
mod point;
mod raw;
mod rebuild;
mod recalls;
mod release;
mod report;
mod run;
mod service;
mod setup;
mod statements;
mod stats;
mod wal;

#[path = "../../tests/support/pki.rs"]
mod pki;

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args::Args::parse();
    if let Some(dir) = &args.ab_summary {
        let labels =
            std::fs::read_to_string(dir.join("labels.txt")).unwrap_or_else(|_| "A and B".into());
        println!("{}", ab::summary(dir, labels.trim())?);
        return Ok(());
    }
    let admin_url = args
        .admin_url
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--admin-url (EHEALTH_BENCH_DATABASE_URL) is required"))?;
    let binary = args
        .binary
        .clone()
        .unwrap_or_else(|| service::sibling_binary("ehealth-es"));
    anyhow::ensure!(
        binary.exists(),
        "{} not found: build it with `cargo build --release`",
        binary.display()
    );
    if args.rebuild_only {
        let report = rebuild::only(&args, &admin_url, &binary).await?;
        println!("{report}");
        if let Some(out) = &args.out {
            std::fs::write(out, &report)?;
        }
        return Ok(());
    }
    run::full(&args, &admin_url, &binary).await
}
