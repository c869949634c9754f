//! `ehealth-faults`: proves the service's promises under faults, against the real release binary
//! on a PostgreSQL started for the run (`scripts/faults.sh`):
//!
//! * (a) SIGKILL during concurrent load, restart, repeat: every acknowledged command is in the
//!   event log, every job finishes, every SMS is sent exactly once, projections equal a rebuild;
//! * (b) PostgreSQL stopped and started during load: 503 meanwhile (never another 5xx, never a
//!   hang), and the service recovers by itself;
//! * (c) two instances on one database: a one-shot action raced on both succeeds once, no side
//!   effect twice, and the survivor's workers finish the jobs of a killed instance.
//!
//! It prints each scenario's figures and a summary table, and exits non-zero if any promise broke.

mod checks;
mod cluster;
mod load;
mod node;
mod provider;
mod scenarios;

#[path = "../../dataset.rs"]
mod dataset;
#[path = "../../../../tests/support/pki.rs"]
mod pki;
#[path = "../../recalls.rs"]
mod recalls;

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use cluster::Cluster;
use scenarios::{Env, Outcome};

#[derive(Debug, Parser)]
#[command(
    name = "ehealth-faults",
    about = "Fault tests of ehealth-es: SIGKILL under load, a PostgreSQL restart, two instances"
)]
struct Args {
    /// A PostgreSQL superuser URL; every scenario creates its own database there.
    #[arg(long, env = "EHEALTH_FAULTS_DATABASE_URL")]
    admin_url: String,
    /// The server's `scripts/pg.sh` folder (`EHEALTH_PG_DIR`), so scenario (b) may stop and start
    /// it. Never point this at a shared server.
    #[arg(long, env = "EHEALTH_PG_DIR")]
    pg_dir: Option<PathBuf>,
    /// Scenarios to run, comma-separated: kill, pg, two.
    #[arg(long, default_value = "kill,pg,two")]
    scenarios: String,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// SIGKILLs in scenario (a).
    #[arg(long, default_value_t = 3)]
    kills: usize,
    /// One-shot entities per action (release, stop, reject) available to the load.
    #[arg(long, default_value_t = 1_200)]
    one_shot: usize,
    /// Service requests to recall (each signed before the load).
    #[arg(long, default_value_t = 150)]
    recalls: usize,
    /// Seconds PostgreSQL stays down in scenario (b). Requests wait up to the pool's 5 s acquire
    /// timeout for a connection, so an outage longer than that shows 503s to clients.
    #[arg(long, default_value_t = 3.0)]
    pg_down: f64,
    /// The ehealth-es binary (default: next to this one).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Also write the summary (Markdown) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

fn sibling_binary(name: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name))
}

fn summary(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    out.push_str("| scenario | commands sent | acknowledged | found after the fault | jobs stuck | SMS duplicates | 5xx seen (503 / other) | notes |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for o in outcomes {
        let f = &o.findings;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} / {} | {} |\n",
            o.name,
            o.sent,
            o.acknowledged,
            f.found,
            f.jobs_stuck,
            f.sms_duplicates,
            o.unavailable,
            o.other_5xx,
            o.notes
        ));
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let binary = args
        .binary
        .clone()
        .unwrap_or_else(|| sibling_binary("ehealth-es"));
    anyhow::ensure!(
        binary.exists(),
        "{} not found: build it with `cargo build --release`",
        binary.display()
    );
    let work = std::env::temp_dir().join(format!(
        "ehealth-faults-{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S")
    ));
    std::fs::create_dir_all(&work)?;
    let ca = pki::TestCa::new("ehealth-faults root");
    let anchors = work.join("anchors.pem");
    pki::write_signature_trust(&ca, &anchors);
    let env = Env {
        cluster: Cluster {
            admin_url: args.admin_url.clone(),
            pg_dir: args.pg_dir.clone(),
        },
        signer: ca.issue_signer_ec(dataset::DOCTOR_TAX_ID, "Faults Doctor"),
        binary,
        clients: args.clients,
        kills: args.kills,
        work: work.clone(),
        anchors,
        keys: ehealth_es::auth::TokenKeys::new(b"faults-secret"),
        one_shot: args.one_shot,
        recalls: args.recalls,
        pg_down: std::time::Duration::from_secs_f64(args.pg_down),
        template: tokio::sync::OnceCell::new(),
    };
    println!(
        "ehealth-faults: {} clients, service logs in {}",
        env.clients,
        work.display()
    );

    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut failed = Vec::new();
    for scenario in args.scenarios.split(',').map(str::trim) {
        println!("\n== {scenario} ==");
        let result = match scenario {
            "kill" => scenarios::sigkill(&env).await,
            "pg" => scenarios::pg_restart(&env).await,
            "two" => scenarios::two_nodes(&env).await,
            other => Err(anyhow::anyhow!("unknown scenario `{other}`")),
        };
        match result {
            Ok(outcome) => {
                for failure in &outcome.failures {
                    println!("  FAILED: {failure}");
                    failed.push(format!("{}: {failure}", outcome.name));
                }
                if outcome.failures.is_empty() {
                    println!("  ok: every promise held");
                }
                outcomes.push(outcome);
            }
            Err(err) => {
                println!("  FAILED: the scenario could not run: {err:#}");
                failed.push(format!("{scenario}: could not run: {err:#}"));
            }
        }
    }

    let table = summary(&outcomes);
    println!(
        "\nehealth-faults summary ({:.0} s)\n\n{table}",
        started.elapsed().as_secs_f64()
    );
    if let Some(out) = &args.out {
        std::fs::write(out, &table)?;
    }
    if failed.is_empty() {
        println!("every promise held");
        Ok(())
    } else {
        for f in &failed {
            eprintln!("broken: {f}");
        }
        anyhow::bail!("{} promise(s) broken", failed.len())
    }
}
