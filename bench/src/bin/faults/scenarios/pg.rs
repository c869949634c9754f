//! (b) PostgreSQL stopped and started during load: 503 meanwhile, readiness down and up again,
//! and the service recovers by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    common_failures, print_findings, print_tally, verify_note, Env, Outcome, Setup, RECOVERY_LIMIT,
};
use crate::load;
use crate::node::Node;

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
