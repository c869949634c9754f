//! (c) Two instances on one database: one-shot requests raced on both, then load over both while
//! one is killed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{
    common_failures, print_findings, print_tally, verify_note, Env, Outcome, Setup, PAIRS,
};
use crate::dataset::{id, Kind, PATIENT};
use crate::load::{self, Ack, Action, Plan};
use crate::node::Node;

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
