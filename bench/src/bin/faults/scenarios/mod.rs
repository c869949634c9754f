//! The three faults. Each runs on a database of its own, with its own SMS provider, prints its
//! figures as it goes and returns them with the promises it found broken.

mod kill;
mod pg;
mod two;

use std::time::{Duration, Instant};

use ehealth_es::auth::TokenKeys;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

use crate::checks::{self, Findings};
use crate::cluster::Cluster;
use crate::dataset::{self, Sizes};
use crate::load::{self, Ack, Plan, Tally};
use crate::node::{Node, NodeConfig};
use crate::provider::Provider;
use crate::{pki, recalls};

pub use kill::sigkill;
pub use pg::pg_restart;
pub use two::two_nodes;

const JWT_SECRET: &str = "faults-secret";
const SCOPES: &str = "service_request:use service_request:recall service_request:read \
                      merge_request:write device_dispense:stop approval:create job:read";
/// Once PostgreSQL accepts connections again, the service must succeed within this.
pub const RECOVERY_LIMIT: Duration = Duration::from_secs(10);
/// How long the workers get to finish every job and SMS after the load.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);
/// One-shot entities per kind kept out of the load, for the requests sent to both nodes at once.
const PAIRS: usize = 60;

/// Shared by every scenario.
pub struct Env {
    pub cluster: Cluster,
    pub binary: std::path::PathBuf,
    pub clients: usize,
    pub kills: usize,
    pub work: std::path::PathBuf,
    pub anchors: std::path::PathBuf,
    pub signer: pki::TestSigner,
    pub keys: TokenKeys,
    pub one_shot: usize,
    pub recalls: usize,
    /// How long PostgreSQL stays down in scenario (b).
    pub pg_down: Duration,
    /// The imported data set, made once and copied for each scenario.
    pub template: tokio::sync::OnceCell<String>,
}

impl Env {
    fn sizes(&self) -> Sizes {
        Sizes {
            per_action: self.one_shot + PAIRS,
            recalls: self.recalls,
            approvals: 200,
            violations: 100,
            pool: 0,
        }
    }

    /// The template database, imported by `ehealth-es import` (which migrates it first), once per
    /// run.
    async fn template(&self) -> anyhow::Result<&str> {
        let name = self
            .template
            .get_or_try_init(|| async {
                let name = format!(
                    "ehealth_faults_tpl_{}",
                    chrono::Utc::now().format("%Y%m%d%H%M%S")
                );
                let url = self.cluster.create_database(&name, None).await?;
                let t = Instant::now();
                let files = self.work.join(&name);
                let created =
                    dataset::import(&self.binary, &url, &files, self.sizes(), 4).await?;
                println!(
                    "  data set: {created} entities imported by `ehealth-es import` in {:.1} s (template {name})",
                    t.elapsed().as_secs_f64()
                );
                anyhow::Ok(name)
            })
            .await?;
        Ok(name)
    }
}

/// One scenario's figures.
pub struct Outcome {
    pub name: &'static str,
    pub sent: usize,
    pub acknowledged: usize,
    pub findings: Findings,
    pub unavailable: usize,
    pub other_5xx: usize,
    pub notes: String,
    pub failures: Vec<String>,
}

/// A scenario's database (imported), provider and node configuration.
struct Setup {
    url: String,
    pool: PgPool,
    provider: Provider,
    config: NodeConfig,
    sizes: Sizes,
}

impl Setup {
    async fn new(env: &Env, name: &str) -> anyhow::Result<Setup> {
        let db = format!(
            "ehealth_faults_{name}_{}",
            chrono::Utc::now().format("%Y%m%d%H%M%S")
        );
        let template = env.template().await?;
        let url = env.cluster.create_database(&db, Some(template)).await?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await?;
        let sizes = env.sizes();
        println!("  [{name}] database {db}");
        let provider = Provider::start().await?;
        let media = env.work.join(&db).join("media");
        std::fs::create_dir_all(&media)?;
        let config = NodeConfig {
            binary: env.binary.clone(),
            database_url: url.clone(),
            jwt_secret: JWT_SECRET.into(),
            trust_anchors: env.anchors.clone(),
            media_dir: media,
            sms_gateway: provider.url.clone(),
            pool_size: 32,
        };
        Ok(Setup {
            url,
            pool,
            provider,
            config,
            sizes,
        })
    }

    /// The load's plan over `bases`, with recalls signed through `sign_via`.
    async fn plan(&self, env: &Env, bases: Vec<String>, sign_via: &str) -> anyhow::Result<Plan> {
        let doctor = env
            .keys
            .mint(dataset::U_DOCTOR, dataset::LE, SCOPES, 86_400);
        let specialist = env
            .keys
            .mint(dataset::U_SPECIALIST, dataset::LE, SCOPES, 86_400);
        let recalls = recalls::presign(
            &load::client(),
            sign_via,
            &doctor,
            self.sizes.recalls,
            &env.signer,
        )
        .await?;
        Ok(Plan::new(
            bases,
            doctor,
            specialist,
            env.one_shot,
            self.sizes.approvals,
            self.sizes.violations,
            recalls,
        ))
    }

    async fn check(&self, env: &Env, acks: &[Ack]) -> anyhow::Result<(Findings, Duration)> {
        let drained = checks::drain(&self.pool, DRAIN_LIMIT).await?;
        // A late redelivery would show after the outbox is empty: give it a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let findings = checks::check(
            &self.pool,
            acks,
            &self.provider.received(),
            &env.binary,
            &self.url,
        )
        .await?;
        Ok((findings, drained))
    }
}

fn print_tally(name: &str, tally: &Tally) {
    println!(
        "  [{name}] sent {}, acknowledged {}, rule 409 {}, retry-exhausted 409 {}, 503 {}, other 5xx {}, \
         other 4xx {}, connection errors {}, client timeouts {}",
        tally.sent,
        tally.acks.len(),
        tally.rule_409,
        tally.retry_409,
        tally.unavailable,
        tally.other_5xx,
        tally.unexpected_4xx,
        tally.transport,
        tally.timeouts
    );
    for e in &tally.examples {
        println!("  [{name}]   e.g. {e}");
    }
}

fn print_findings(name: &str, f: &Findings, drained: Duration) {
    println!(
        "  [{name}] after the fault: {} of {} acknowledged found in the log; drained in {:.1} s; \
         jobs stuck {}; SMS asked {}, sent {}, missing {}, unsent {}, duplicates {}, \
         provider got {} deliveries, {} redelivered under the same key; one-shot actions applied twice {}",
        f.found,
        f.acknowledged,
        drained.as_secs_f64(),
        f.jobs_stuck,
        f.sms_expected,
        f.sms_sent,
        f.sms_missing,
        f.sms_unsent,
        f.sms_duplicates,
        f.sms_delivered,
        f.sms_redelivered,
        f.double_changes
    );
    match f.verify {
        Some(true) => println!(
            "  [{name}] projections verify: equal to a rebuild ({})",
            f.verify_line
        ),
        Some(false) => println!(
            "  [{name}] projections verify: DIFFERENT ({})",
            f.verify_line
        ),
        None => println!("  [{name}] projections verify: {}", f.verify_line),
    }
}

/// Failures every scenario shares: broken promises, 5xx other than 503, hangs, panics.
fn common_failures(tally: &Tally, findings: &Findings, nodes: &[&Node]) -> Vec<String> {
    let mut out = findings.failures();
    if tally.other_5xx > 0 {
        out.push(format!("{} answer(s) 5xx other than 503", tally.other_5xx));
    }
    if tally.timeouts > 0 {
        out.push(format!(
            "{} request(s) unanswered within {:?}",
            tally.timeouts,
            load::CLIENT_TIMEOUT
        ));
    }
    if tally.unexpected_4xx > 0 {
        out.push(format!("{} unexpected 4xx answer(s)", tally.unexpected_4xx));
    }
    for node in nodes {
        let panics = node.panics();
        if panics > 0 {
            out.push(format!(
                "{panics} panic(s) in the log of {} ({})",
                node.name,
                node.log_path().display()
            ));
        }
    }
    out
}

fn verify_note(f: &Findings) -> &'static str {
    match f.verify {
        Some(true) => "projections = rebuild",
        Some(false) => "projections ≠ rebuild",
        None => "verify skipped",
    }
}
