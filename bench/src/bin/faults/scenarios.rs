//! The three faults. Each runs on a database of its own, with its own SMS provider, prints its
//! figures as it goes and returns them with the promises it found broken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ehealth_es::auth::TokenKeys;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;

use crate::checks::{self, Findings};
use crate::cluster::Cluster;
use crate::dataset::{self, id, Kind, Sizes, PATIENT};
use crate::load::{self, Ack, Action, Plan, Tally};
use crate::node::{Node, NodeConfig};
use crate::pki;
use crate::provider::Provider;

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
        }
    }

    /// The template database: migrated and imported through the real commands, once per run.
    async fn template(&self) -> anyhow::Result<&str> {
        let name = self
            .template
            .get_or_try_init(|| async {
                let name = format!(
                    "ehealth_faults_tpl_{}",
                    chrono::Utc::now().format("%Y%m%d%H%M%S")
                );
                let url = self.cluster.create_database(&name, None).await?;
                let pool = ehealth_es::db::connect(&url, 8).await?;
                ehealth_es::db::migrate(&pool).await?;
                let t = Instant::now();
                let created = dataset::import(&pool, self.sizes(), 4).await?;
                println!(
                    "  data set: {created} entities imported through commands in {:.1} s (template {name})",
                    t.elapsed().as_secs_f64()
                );
                // A template cannot be copied while anyone is connected to it.
                pool.close().await;
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
        let pool = ehealth_es::db::connect(&url, 8).await?;
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
        let recalls = load::presign(sign_via, &doctor, self.sizes.recalls, &env.signer).await?;
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

/// (a) SIGKILL the service `env.kills` times during concurrent load, restarting it each time.
pub async fn sigkill(env: &Env) -> anyhow::Result<Outcome> {
    const NAME: &str = "kill";
    let setup = Setup::new(env, NAME).await?;
    let mut node = Node::start("kill", setup.config.clone(), &env.work).await?;
    let plan = Arc::new(setup.plan(env, vec![node.base.clone()], &node.base).await?);
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load::run(plan, env.clients, stop.clone()));
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut restarts = Vec::new();
    for k in 1..=env.kills {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(1_500..3_000))).await;
        node.kill9().await;
        let killed = Instant::now();
        // Clients meet a closed port for a moment, as they would in production.
        tokio::time::sleep(Duration::from_millis(300)).await;
        node.restart().await?;
        restarts.push(killed.elapsed().as_secs_f64());
        println!(
            "  [{NAME}] kill -9 #{k}; serving again after {:.2} s",
            killed.elapsed().as_secs_f64()
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let tally = load.await?;
    print_tally(NAME, &tally);
    let (findings, drained) = setup.check(env, &tally.acks).await?;
    node.kill9().await;
    print_findings(NAME, &findings, drained);
    let failures = common_failures(&tally, &findings, &[&node]);
    Ok(Outcome {
        name: "(a) SIGKILL ×N during load",
        sent: tally.sent,
        acknowledged: tally.acks.len(),
        unavailable: tally.unavailable,
        other_5xx: tally.other_5xx,
        notes: format!(
            "{} kills, restarts {}; {} connection errors; {}",
            env.kills,
            restarts
                .iter()
                .map(|s| format!("{s:.1} s"))
                .collect::<Vec<_>>()
                .join(", "),
            tally.transport,
            verify_note(&findings)
        ),
        findings,
        failures,
    })
}

fn verify_note(f: &Findings) -> &'static str {
    match f.verify {
        Some(true) => "projections = rebuild",
        Some(false) => "projections ≠ rebuild",
        None => "verify skipped",
    }
}

/// Polls `/health/ready` every 100 ms and records the answers (0: no answer).
fn poll_ready(base: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<(Instant, u16)>> {
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let status = match client.get(format!("{base}/health/ready")).send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            };
            seen.push((Instant::now(), status));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen
    })
}

/// (b) Stop PostgreSQL (`pg_ctl stop -m fast`) for ~3 s during load, then start it again.
pub async fn pg_restart(env: &Env) -> anyhow::Result<Outcome> {
    const NAME: &str = "pg";
    let setup = Setup::new(env, NAME).await?;
    let mut node = Node::start("pg", setup.config.clone(), &env.work).await?;
    let plan = Arc::new(setup.plan(env, vec![node.base.clone()], &node.base).await?);
    let stop = Arc::new(AtomicBool::new(false));
    let ready = poll_ready(node.base.clone(), stop.clone());
    let load = tokio::spawn(load::run(plan, env.clients, stop.clone()));

    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopping = Instant::now();
    env.cluster.stop().await?;
    println!(
        "  [{NAME}] PostgreSQL stopped (-m fast) in {:.2} s",
        stopping.elapsed().as_secs_f64()
    );
    tokio::time::sleep(env.pg_down).await;
    env.cluster.start().await?;
    let started = Instant::now();
    println!(
        "  [{NAME}] PostgreSQL started again after {:.1} s down",
        started.duration_since(stopping).as_secs_f64()
    );
    // Load until the limit has passed, so a slow recovery shows as one.
    tokio::time::sleep(RECOVERY_LIMIT + Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let tally = load.await?;
    let ready = ready.await?;
    print_tally(NAME, &tally);

    let during = tally
        .samples
        .iter()
        .filter(|(at, _)| *at >= stopping && *at <= started)
        .count();
    let recovered = tally
        .first_success_after(started)
        .map(|at| at.duration_since(started));
    let ready_before = ready.iter().any(|(at, s)| *at < stopping && *s == 200);
    let ready_down = ready
        .iter()
        .any(|(at, s)| *at >= stopping && *at <= started + Duration::from_secs(1) && *s == 503);
    let ready_back = ready
        .iter()
        .find(|(at, s)| *at >= started && *s == 200)
        .map(|(at, _)| at.duration_since(started));
    let ready_other: Vec<u16> = ready
        .iter()
        .map(|(_, s)| *s)
        .filter(|s| *s != 200 && *s != 503)
        .collect();
    println!(
        "  [{NAME}] answers while PostgreSQL was down: {during}; first success {} after the start; \
         /health/ready: 200 before {ready_before}, 503 while down {ready_down}, 200 again after {}",
        recovered.map_or("never".into(), |d| format!("{:.2} s", d.as_secs_f64())),
        ready_back.map_or("never".into(), |d| format!("{:.2} s", d.as_secs_f64())),
    );

    let (findings, drained) = setup.check(env, &tally.acks).await?;
    node.kill9().await;
    print_findings(NAME, &findings, drained);
    let mut failures = common_failures(&tally, &findings, &[&node]);
    if recovered.is_none_or(|d| d > RECOVERY_LIMIT) {
        failures.push(format!(
            "no success within {RECOVERY_LIMIT:?} after PostgreSQL came back"
        ));
    }
    if !(ready_before && ready_down && ready_back.is_some_and(|d| d <= RECOVERY_LIMIT)) {
        failures.push(format!(
            "/health/ready did not go 200 → 503 → 200 (before {ready_before}, down {ready_down}, back {ready_back:?})"
        ));
    }
    if !ready_other.is_empty() {
        failures.push(format!(
            "/health/ready answered other than 200/503: {ready_other:?} (0 = no answer)"
        ));
    }
    Ok(Outcome {
        name: "(b) PostgreSQL stop/start during load",
        sent: tally.sent,
        acknowledged: tally.acks.len(),
        unavailable: tally.unavailable,
        other_5xx: tally.other_5xx,
        notes: format!(
            "down {:.1} s, {during} answers meanwhile; recovered {} after start; ready 200 again after {}; {}",
            started.duration_since(stopping).as_secs_f64(),
            recovered.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64())),
            ready_back.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64())),
            verify_note(&findings)
        ),
        findings,
        failures,
    })
}

/// The same one-shot request to both nodes at once: exactly one 2xx and one rule's 409.
async fn race_pairs(nodes: [String; 2], plan: &Plan) -> (usize, Vec<String>, Vec<Ack>) {
    let client = load::client();
    let mut requests = Vec::new();
    for n in 0..PAIRS {
        let sr = id(Kind::QueuedServiceRequest, plan.one_shot + n);
        let dd = id(Kind::InProgressDispense, plan.one_shot + n);
        let mr = id(Kind::NewMergeRequest, plan.one_shot + n);
        requests.push((
            Action::Release,
            sr,
            format!("/api/service_requests/{sr}/actions/release"),
            &plan.doctor,
            "Invalid program processing status".to_string(),
        ));
        requests.push((
            Action::Stop,
            dd,
            format!("/api/patients/{PATIENT}/device_dispenses/{dd}/actions/stop"),
            &plan.doctor,
            "Device dispense in status stopped cannot be stopped".to_string(),
        ));
        requests.push((
            Action::Reject,
            mr,
            format!("/api/merge_requests/{mr}/actions/reject"),
            &plan.specialist,
            "Invalid merge request status".to_string(),
        ));
    }
    let bad = Arc::new(Mutex::new(Vec::new()));
    let acks = Arc::new(Mutex::new(Vec::new()));
    let mut sent = 0;
    for chunk in requests.chunks(8) {
        let mut tasks = Vec::new();
        for (action, entity, path, token, rule) in chunk.iter().cloned() {
            let (client, nodes, token) = (client.clone(), nodes.clone(), token.clone());
            let (bad, acks) = (bad.clone(), acks.clone());
            sent += 2;
            tasks.push(tokio::spawn(async move {
                let one = |node: usize| {
                    let (client, url, token) = (
                        client.clone(),
                        format!("{}{path}", nodes[node]),
                        token.clone(),
                    );
                    async move {
                        match client.patch(url).bearer_auth(token).send().await {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                let body: serde_json::Value = r.json().await.unwrap_or_default();
                                (status, body)
                            }
                            Err(e) => (0, serde_json::json!(e.to_string())),
                        }
                    }
                };
                let ((s0, b0), (s1, b1)) = tokio::join!(one(0), one(1));
                let won: Vec<usize> = [(0, s0), (1, s1)]
                    .iter()
                    .filter(|(_, s)| (200..300).contains(s))
                    .map(|(n, _)| *n)
                    .collect();
                let loser = if won == [0] { (s1, &b1) } else { (s0, &b0) };
                let ok = won.len() == 1
                    && loser.0 == 409
                    && loser.1["error"]["message"].as_str() == Some(rule.as_str());
                if !ok {
                    bad.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                        "{action:?} {entity}: node A {s0} {b0}, node B {s1} {b1}"
                    ));
                }
                if let [node] = won[..] {
                    let body = if node == 0 { &b0 } else { &b1 };
                    acks.lock().unwrap_or_else(|e| e.into_inner()).push(Ack {
                        action,
                        entity,
                        job: body["data"]["links"][0]["href"]
                            .as_str()
                            .and_then(|h| h.rsplit('/').next())
                            .map(str::to_string),
                        node,
                    });
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    }
    let bad = std::mem::take(&mut *bad.lock().unwrap_or_else(|e| e.into_inner()));
    let acks = std::mem::take(&mut *acks.lock().unwrap_or_else(|e| e.into_inner()));
    (sent, bad, acks)
}

/// (c) Two instances on one database: the same one-shot requests raced on both, then load spread
/// over both while one is killed; the survivor's workers finish the dead one's jobs.
pub async fn two_nodes(env: &Env) -> anyhow::Result<Outcome> {
    const NAME: &str = "two";
    let setup = Setup::new(env, NAME).await?;
    let mut a = Node::start("two-a", setup.config.clone(), &env.work).await?;
    let mut b = Node::start("two-b", setup.config.clone(), &env.work).await?;
    let plan = Arc::new(
        setup
            .plan(env, vec![a.base.clone(), b.base.clone()], &a.base)
            .await?,
    );

    let (pair_sent, pair_bad, pair_acks) =
        race_pairs([a.base.clone(), b.base.clone()], &plan).await;
    println!(
        "  [{NAME}] {} one-shot requests sent to both nodes at once: {} pairs with exactly one 2xx \
         and one rule 409, {} not",
        pair_sent / 2,
        pair_sent / 2 - pair_bad.len(),
        pair_bad.len()
    );
    for e in pair_bad.iter().take(5) {
        println!("  [{NAME}]   e.g. {e}");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(load::run(plan.clone(), env.clients, stop.clone()));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    a.kill9().await;
    // Jobs still pending the moment A dies; those A acknowledged must be finished by B.
    let pending_at_kill: Vec<String> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE status = 'pending'")
            .fetch_all(&setup.pool)
            .await?;
    println!(
        "  [{NAME}] kill -9 node A; {} job(s) pending at that moment",
        pending_at_kill.len()
    );
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut tally = load.await?;
    print_tally(NAME, &tally);
    let a_jobs: Vec<String> = tally
        .acks
        .iter()
        .filter(|ack| ack.node == 0)
        .filter_map(|ack| ack.job.clone())
        .filter(|job| pending_at_kill.contains(job))
        .collect();

    tally.acks.extend(pair_acks);
    let (findings, drained) = setup.check(env, &tally.acks).await?;
    let a_finished: i64 =
        sqlx::query_scalar("SELECT count(*) FROM jobs WHERE id = ANY($1) AND status = 'processed'")
            .bind(&a_jobs)
            .fetch_one(&setup.pool)
            .await?;
    println!(
        "  [{NAME}] jobs acknowledged by A and pending when it died: {}; finished by B's workers: {a_finished}",
        a_jobs.len()
    );
    let alive_b = b.is_running();
    b.kill9().await;
    print_findings(NAME, &findings, drained);

    let mut failures = common_failures(&tally, &findings, &[&a, &b]);
    if !pair_bad.is_empty() {
        failures.push(format!(
            "{} raced pair(s) without exactly one 2xx and one rule 409",
            pair_bad.len()
        ));
    }
    if a_finished < a_jobs.len() as i64 {
        failures.push(format!(
            "{} of A's jobs not finished by B",
            a_jobs.len() as i64 - a_finished
        ));
    }
    if !alive_b {
        failures.push("node B died".into());
    }
    Ok(Outcome {
        name: "(c) two instances, one killed",
        sent: tally.sent + pair_sent,
        acknowledged: tally.acks.len(),
        unavailable: tally.unavailable,
        other_5xx: tally.other_5xx,
        notes: format!(
            "{} raced pairs: {} exactly-once; A's pending jobs finished by B {a_finished}/{}; {}",
            pair_sent / 2,
            pair_sent / 2 - pair_bad.len(),
            a_jobs.len(),
            verify_note(&findings)
        ),
        findings,
        failures,
    })
}
