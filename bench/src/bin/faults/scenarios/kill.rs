//! (a) SIGKILL during concurrent load, restart, repeat.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use super::{common_failures, print_findings, print_tally, verify_note, Env, Outcome, Setup};
use crate::load;
use crate::node::Node;

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
