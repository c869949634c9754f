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

/// The node whose answer carried out a one-shot request sent to both nodes at once, if the pair
/// of answers keeps the promise: one 2xx and the rule's 409 (the other came after the change), or
/// a 202 and a 200 naming the same job (the other came while that job was pending: the same
/// command, answered with the job already under way).
fn winner(
    answers: [(u16, &serde_json::Value); 2],
    rule: &str,
    job: impl Fn(&serde_json::Value) -> Option<String>,
) -> Option<usize> {
    let [(s0, b0), (s1, b1)] = answers;
    let ok = |s: u16| (200..300).contains(&s);
    let rule_409 =
        |s: u16, b: &serde_json::Value| s == 409 && b["error"]["message"].as_str() == Some(rule);
    match (ok(s0), ok(s1)) {
        (true, false) if rule_409(s1, b1) => Some(0),
        (false, true) if rule_409(s0, b0) => Some(1),
        (true, true) if job(b0).is_some() && job(b0) == job(b1) => match (s0, s1) {
            (202, 200) => Some(0),
            (200, 202) => Some(1),
            _ => None,
        },
        _ => None,
    }
}

/// The same one-shot request to both nodes at once: carried out once (see [`winner`]).
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
                let job = |body: &serde_json::Value| {
                    body["data"]["links"][0]["href"]
                        .as_str()
                        .and_then(|h| h.rsplit('/').next())
                        .map(str::to_string)
                };
                let won = winner([(s0, &b0), (s1, &b1)], &rule, job);
                if won.is_none() {
                    bad.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                        "{action:?} {entity}: node A {s0} {b0}, node B {s1} {b1}"
                    ));
                }
                if let Some(node) = won {
                    let body = if node == 0 { &b0 } else { &b1 };
                    acks.lock().unwrap_or_else(|e| e.into_inner()).push(Ack {
                        action,
                        entity,
                        job: job(body),
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
        "  [{NAME}] {} one-shot requests sent to both nodes at once: {} pairs carried out once \
         (a 2xx and the rule's 409, or one job), {} not",
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
    let mut a_jobs: Vec<String> = tally
        .acks
        .iter()
        .filter(|ack| ack.node == 0)
        .filter_map(|ack| ack.job.clone())
        .filter(|job| pending_at_kill.contains(job))
        .collect();
    // A repeat of a command whose job is pending is acknowledged with that same job.
    a_jobs.sort_unstable();
    a_jobs.dedup();

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
            "{} raced pair(s) not carried out exactly once",
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(body: &serde_json::Value) -> Option<String> {
        body["job"].as_str().map(str::to_string)
    }

    #[test]
    fn a_pair_is_carried_out_once_by_a_2xx_and_the_rule_s_409_or_by_one_job() {
        let rule = json!({ "error": { "message": "Invalid status" } });
        let other = json!({ "error": { "message": "conflict" } });
        let (j1, j2) = (json!({ "job": "1" }), json!({ "job": "2" }));
        assert_eq!(
            winner([(202, &j1), (409, &rule)], "Invalid status", job),
            Some(0)
        );
        assert_eq!(
            winner([(409, &rule), (200, &j1)], "Invalid status", job),
            Some(1)
        );
        assert_eq!(
            winner([(200, &j1), (202, &j1)], "Invalid status", job),
            Some(1)
        );
        assert_eq!(
            winner([(202, &j1), (202, &j1)], "Invalid status", job),
            None
        );
        assert_eq!(
            winner([(202, &j1), (200, &j2)], "Invalid status", job),
            None
        );
        assert_eq!(
            winner([(202, &j1), (409, &other)], "Invalid status", job),
            None
        );
        assert_eq!(
            winner([(503, &other), (409, &rule)], "Invalid status", job),
            None
        );
    }
}
