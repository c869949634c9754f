//! The load: closed-loop clients sending a mix of the five actions over loopback HTTP for a fixed
//! duration. Most requests succeed; some break a rule on purpose (the spec's 409 is their correct
//! answer); a few repeat an action on an entity that was already changed (conflicts).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::dataset::{id, Handed, Kind, OneShots, Sizes, HOT_DISPENSE, PATIENT};
use crate::http::Connection;
use crate::stats::Samples;

/// Tokens and pre-signed recalls the clients use.
pub struct Plan {
    pub base: String,
    pub doctor_token: String,
    pub specialist_token: String,
    pub sizes: Sizes,
    pub recalls: Mutex<VecDeque<(Uuid, String)>>,
    handed: OneShots,
}

impl Plan {
    pub fn new(
        base: String,
        doctor_token: String,
        specialist_token: String,
        sizes: Sizes,
        recalls: Vec<(Uuid, String)>,
    ) -> Self {
        Self {
            base,
            doctor_token,
            specialist_token,
            sizes,
            recalls: Mutex::new(recalls.into()),
            handed: OneShots::default(),
        }
    }
}

/// An already-used one-shot entity, if any: repeating its action must answer the rule's 409.
fn used(handed: &Handed, size: usize, rng: &mut impl Rng) -> Option<usize> {
    let used = handed.0.load(Ordering::Relaxed).min(size);
    (used > 0).then(|| rng.gen_range(0..used))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Release,
    Recall,
    Reject,
    Stop,
    Resend,
}

/// What one client saw.
#[derive(Default)]
pub struct Tally {
    pub latencies: Samples,
    /// The same latencies by action (the last segment of the path: release, stop, …).
    pub by_action: BTreeMap<&'static str, Samples>,
    pub ok: usize,
    /// 409 with a rule's message: the correct answer to a request that breaks a rule.
    pub rule_409: usize,
    /// Anything else: generic conflicts after retries, 4xx that should not happen, 5xx.
    pub errors: usize,
    pub error_examples: Vec<String>,
    /// Every request as (start, latency) in µs from the start of the point, with its action and
    /// status: `--trace` writes them out to show when the slow requests happened.
    pub trace: Vec<(u64, u64, &'static str, u16)>,
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        for (action, samples) in other.by_action {
            self.by_action.entry(action).or_default().extend(samples);
        }
        self.ok += other.ok;
        self.rule_409 += other.rule_409;
        self.errors += other.errors;
        self.trace.extend(other.trace);
        for e in other.error_examples {
            if self.error_examples.len() < 5 {
                self.error_examples.push(e);
            }
        }
    }

    pub fn total(&self) -> usize {
        self.ok + self.rule_409 + self.errors
    }

    /// Sends a PATCH over the client's connection and records what it took and how it was
    /// answered: a 2xx, the rule's 409, or an error (status 0 when the exchange itself failed).
    /// Returns the status.
    pub async fn timed_patch(
        &mut self,
        conn: &mut Connection,
        path: &str,
        token: &str,
        body: Option<&str>,
        epoch: Instant,
    ) -> u16 {
        let started = Instant::now();
        let (status, text) = match conn.send("PATCH", path, token, body).await {
            Ok(a) => (a.status, String::from_utf8_lossy(&a.body).into_owned()),
            Err(e) => (0, e.to_string()),
        };
        let took = started.elapsed();
        self.latencies.push(took);
        let action = action_name(path);
        self.by_action.entry(action).or_default().push(took);
        self.trace.push((
            started.duration_since(epoch).as_micros() as u64,
            took.as_micros() as u64,
            action,
            status,
        ));
        match status {
            200..=299 => self.ok += 1,
            409 if !text.contains(GENERIC_CONFLICT) => self.rule_409 += 1,
            _ => {
                self.errors += 1;
                if self.error_examples.len() < 5 {
                    self.error_examples.push(format!(
                        "{status} {path} {}",
                        text.chars().take(200).collect::<String>()
                    ));
                }
            }
        }
        status
    }
}

/// The generic answer after retries ran out: never a spec answer.
const GENERIC_CONFLICT: &str = "The request could not be completed due to a conflict";

struct Request {
    path: String,
    token_is_specialist: bool,
    body: Option<String>,
}

impl Request {
    fn action(path: String, token_is_specialist: bool) -> Self {
        Self {
            path,
            token_is_specialist,
            body: None,
        }
    }

    fn release(kind: Kind, n: usize) -> Self {
        let path = format!("/api/service_requests/{}/actions/release", id(kind, n));
        Self::action(path, false)
    }

    fn stop(kind: Kind, n: usize) -> Self {
        let path = format!(
            "/api/patients/{PATIENT}/device_dispenses/{}/actions/stop",
            id(kind, n)
        );
        Self::action(path, false)
    }

    fn reject(n: usize) -> Self {
        let path = format!(
            "/api/merge_requests/{}/actions/reject",
            id(Kind::NewMergeRequest, n)
        );
        Self::action(path, true)
    }

    fn resend(n: usize) -> Self {
        let path = format!(
            "/api/patients/{PATIENT}/approvals/{}/actions/resend",
            id(Kind::Approval, n)
        );
        Self::action(path, false)
    }
}

fn pick(plan: &Plan, rng: &mut impl Rng) -> Request {
    let s = plan.sizes;
    let resend =
        |rng: &mut dyn rand::RngCore| Request::resend(rng.gen_range(0..s.approvals.max(1)));
    let roll: u32 = rng.gen_range(0..100);
    let action = match roll {
        0..=21 => Action::Release,
        22..=41 => Action::Stop,
        42..=61 => Action::Reject,
        62..=86 => Action::Resend,
        87..=91 => Action::Recall,
        _ => {
            // Rule violations and repeats: the spec's 409 is the right answer.
            let violation = |rng: &mut dyn rand::RngCore| rng.gen_range(0..s.violations.max(1));
            return match roll % 4 {
                0 => Request::release(Kind::NewServiceRequest, violation(rng)),
                1 => Request::stop(Kind::CompletedDispense, violation(rng)),
                2 => match used(&plan.handed.release, s.per_action, rng) {
                    Some(n) => Request::release(Kind::QueuedServiceRequest, n),
                    None => resend(rng),
                },
                _ => match used(&plan.handed.reject, s.per_action, rng) {
                    Some(n) => Request::reject(n),
                    None => resend(rng),
                },
            };
        }
    };
    let one_shot = match action {
        Action::Release => plan
            .handed
            .release
            .take(s.per_action)
            .map(|n| Request::release(Kind::QueuedServiceRequest, n)),
        Action::Stop => plan
            .handed
            .stop
            .take(s.per_action)
            .map(|n| Request::stop(Kind::InProgressDispense, n)),
        Action::Reject => plan.handed.reject.take(s.per_action).map(Request::reject),
        Action::Recall => plan
            .recalls
            .lock()
            .ok()
            .and_then(|mut q| q.pop_front())
            .map(|(sr, body)| Request {
                path: format!("/api/patients/{PATIENT}/service_requests/{sr}/actions/recall"),
                token_is_specialist: false,
                body: Some(body),
            }),
        Action::Resend => None,
    };
    one_shot.unwrap_or_else(|| resend(rng))
}

async fn send(conn: &mut Connection, plan: &Plan, req: Request, tally: &mut Tally, epoch: Instant) {
    let token = if req.token_is_specialist {
        &plan.specialist_token
    } else {
        &plan.doctor_token
    };
    tally
        .timed_patch(conn, &req.path, token, req.body.as_deref(), epoch)
        .await;
}

/// The clients' tallies, merged.
pub async fn merged(tasks: Vec<tokio::task::JoinHandle<Tally>>) -> Tally {
    let mut all = Tally::default();
    for t in tasks {
        if let Ok(tally) = t.await {
            all.merge(tally);
        }
    }
    all
}

fn action_name(path: &str) -> &'static str {
    match path.rsplit('/').next() {
        Some("release") => "release",
        Some("recall") => "recall",
        Some("reject") => "reject",
        Some("stop") => "stop",
        Some("resend") => "resend",
        _ => "other",
    }
}

/// `clients` closed-loop clients for `duration`.
pub async fn run(plan: Arc<Plan>, clients: usize, duration: Duration) -> Tally {
    let epoch = Instant::now();
    let deadline = epoch + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let plan = plan.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut rng = rand::rngs::StdRng::from_entropy();
            let mut conn = Connection::new(&plan.base);
            while Instant::now() < deadline {
                let req = pick(&plan, &mut rng);
                send(&mut conn, &plan, req, &mut tally, epoch).await;
            }
            tally
        }));
    }
    merged(tasks).await
}

/// Every client on a few entities: resends of two approvals and stops of two dispenses. Each
/// request must get its spec answer — 202, or the rule's 409 once a dispense is stopped — and
/// never a conflict that leaked through the retries. Each client has a token of its own user
/// (`tokens`), so the clients' requests are different commands: the same command while its job
/// is pending would be answered with that job, without contending for the entity.
pub async fn run_hot(base: &str, tokens: &[String], duration: Duration) -> Tally {
    let epoch = Instant::now();
    let deadline = epoch + duration;
    let mut tasks = Vec::new();
    for (c, token) in tokens.iter().enumerate() {
        let (base, token) = (base.to_string(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Connection::new(&base);
            let mut tally = Tally::default();
            let mut i = c;
            while Instant::now() < deadline {
                let path = if i % 2 == 0 {
                    format!(
                        "/api/patients/{PATIENT}/approvals/{}/actions/resend",
                        id(Kind::Approval, i % 4 / 2)
                    )
                } else {
                    format!(
                        "/api/patients/{PATIENT}/device_dispenses/{}/actions/stop",
                        id(Kind::InProgressDispense, HOT_DISPENSE + i % 4 / 2)
                    )
                };
                i += 1;
                tally
                    .timed_patch(&mut conn, &path, &token, None, epoch)
                    .await;
            }
            tally
        }));
    }
    merged(tasks).await
}
