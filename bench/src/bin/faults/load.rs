//! The load under fault: closed-loop clients sending the five actions over loopback HTTP until told
//! to stop, spread over one or more nodes, with bounded timeouts (a hang is a finding, not a stuck
//! run). Every acknowledged command (2xx) is remembered with the entity and the event it promises,
//! so the checks can look for it after the fault.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::Value;
use uuid::Uuid;

use crate::dataset::{id, Handed, Kind, OneShots, PATIENT};

/// A client waits at most this long for an answer; longer counts as a hang.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Release,
    Recall,
    Reject,
    Stop,
    Resend,
    /// A request that breaks a rule: its correct answer is the rule's 409.
    Violation,
}

impl Action {
    /// The event an acknowledged action promises is in the log.
    pub fn event_type(self) -> &'static str {
        match self {
            Action::Release => "ServiceRequestReleased",
            Action::Recall => "ServiceRequestRecalled",
            Action::Reject => "MergeRequestRejected",
            Action::Stop => "DeviceDispenseStopped",
            Action::Resend => "ApprovalOtpResent",
            Action::Violation => "",
        }
    }

    /// Actions an entity accepts once.
    pub fn one_shot(self) -> bool {
        matches!(
            self,
            Action::Release | Action::Recall | Action::Reject | Action::Stop
        )
    }
}

/// An acknowledged command: what changed, the job it started, the node that answered.
#[derive(Debug, Clone)]
pub struct Ack {
    pub action: Action,
    pub entity: Uuid,
    pub job: Option<String>,
    pub node: usize,
}

/// The ranges of entities this load may use, and the tokens it sends.
pub struct Plan {
    pub bases: Vec<String>,
    pub doctor: String,
    pub specialist: String,
    /// One-shot entities `0..one_shot` of each kind are handed out once each.
    pub one_shot: usize,
    pub approvals: usize,
    pub violations: usize,
    pub recalls: Mutex<VecDeque<(Uuid, String)>>,
    handed: OneShots,
}

impl Plan {
    pub fn new(
        bases: Vec<String>,
        doctor: String,
        specialist: String,
        one_shot: usize,
        approvals: usize,
        violations: usize,
        recalls: Vec<(Uuid, String)>,
    ) -> Self {
        Self {
            bases,
            doctor,
            specialist,
            one_shot,
            approvals,
            violations,
            recalls: Mutex::new(recalls.into()),
            handed: OneShots::default(),
        }
    }
}

struct Request {
    action: Action,
    entity: Uuid,
    path: String,
    specialist: bool,
    body: Option<String>,
}

impl Request {
    /// A doctor's request without a body.
    fn doctor(action: Action, entity: Uuid, path: String) -> Request {
        Request {
            action,
            entity,
            path,
            specialist: false,
            body: None,
        }
    }
}

fn resend(plan: &Plan, rng: &mut impl Rng) -> Request {
    let entity = id(Kind::Approval, rng.gen_range(0..plan.approvals.max(1)));
    let path = format!("/api/patients/{PATIENT}/approvals/{entity}/actions/resend");
    Request::doctor(Action::Resend, entity, path)
}

/// The request on the next unused one-shot entity of `kind`; once they are all used, a resend
/// (which any approval takes any number of times).
fn one_shot(
    plan: &Plan,
    rng: &mut impl Rng,
    handed: &Handed,
    kind: Kind,
    request: impl FnOnce(Uuid) -> Request,
) -> Request {
    match handed.take(plan.one_shot) {
        Some(n) => request(id(kind, n)),
        None => resend(plan, rng),
    }
}

fn pick(plan: &Plan, rng: &mut impl Rng) -> Request {
    let roll: u32 = rng.gen_range(0..100);
    match roll {
        0..=21 => one_shot(
            plan,
            rng,
            &plan.handed.release,
            Kind::QueuedServiceRequest,
            |e| {
                let path = format!("/api/service_requests/{e}/actions/release");
                Request::doctor(Action::Release, e, path)
            },
        ),
        22..=41 => one_shot(
            plan,
            rng,
            &plan.handed.stop,
            Kind::InProgressDispense,
            |e| {
                let path = format!("/api/patients/{PATIENT}/device_dispenses/{e}/actions/stop");
                Request::doctor(Action::Stop, e, path)
            },
        ),
        42..=61 => one_shot(plan, rng, &plan.handed.reject, Kind::NewMergeRequest, |e| {
            let path = format!("/api/merge_requests/{e}/actions/reject");
            Request {
                specialist: true,
                ..Request::doctor(Action::Reject, e, path)
            }
        }),
        62..=86 => resend(plan, rng),
        87..=92 => match plan.recalls.lock().ok().and_then(|mut q| q.pop_front()) {
            Some((entity, body)) => Request {
                body: Some(body),
                ..Request::doctor(
                    Action::Recall,
                    entity,
                    format!("/api/patients/{PATIENT}/service_requests/{entity}/actions/recall"),
                )
            },
            None => resend(plan, rng),
        },
        _ => {
            let n = rng.gen_range(0..plan.violations.max(1));
            let (entity, path) = if rng.gen::<bool>() {
                let entity = id(Kind::NewServiceRequest, n);
                (
                    entity,
                    format!("/api/service_requests/{entity}/actions/release"),
                )
            } else {
                let entity = id(Kind::CompletedDispense, n);
                (
                    entity,
                    format!("/api/patients/{PATIENT}/device_dispenses/{entity}/actions/stop"),
                )
            };
            Request::doctor(Action::Violation, entity, path)
        }
    }
}

/// Status recorded for an answer that never came.
pub const TRANSPORT_ERROR: u16 = 0;
pub const TIMED_OUT: u16 = 1;

/// What the clients saw.
#[derive(Default)]
pub struct Tally {
    pub sent: usize,
    pub acks: Vec<Ack>,
    /// The rule's 409 (a violation, or a one-shot action already done).
    pub rule_409: usize,
    /// The generic 409 after the bounded conflict retries ran out.
    pub retry_409: usize,
    pub unavailable: usize,
    pub other_5xx: usize,
    /// Any other 4xx: never a correct answer to this load.
    pub unexpected_4xx: usize,
    /// Connection refused or reset: the node was down or died mid-request.
    pub transport: usize,
    pub timeouts: usize,
    /// Every answer with its time, for recovery times.
    pub samples: Vec<(Instant, u16)>,
    pub examples: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.sent += other.sent;
        self.acks.extend(other.acks);
        self.rule_409 += other.rule_409;
        self.retry_409 += other.retry_409;
        self.unavailable += other.unavailable;
        self.other_5xx += other.other_5xx;
        self.unexpected_4xx += other.unexpected_4xx;
        self.transport += other.transport;
        self.timeouts += other.timeouts;
        self.samples.extend(other.samples);
        for e in other.examples {
            if self.examples.len() < 8 {
                self.examples.push(e);
            }
        }
    }

    /// The first acknowledged answer at or after `since`.
    pub fn first_success_after(&self, since: Instant) -> Option<Instant> {
        self.samples
            .iter()
            .filter(|(at, status)| *at >= since && (200..300).contains(status))
            .map(|(at, _)| *at)
            .min()
    }

    fn example(&mut self, text: String) {
        if self.examples.len() < 8 {
            self.examples.push(text);
        }
    }
}

/// The generic answer after the conflict retries ran out: not a rule's answer.
const GENERIC_CONFLICT: &str = "The request could not be completed due to a conflict";

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("static client configuration")
}

/// Sends one request to node `node` and files the answer.
async fn send(client: &reqwest::Client, plan: &Plan, node: usize, req: Request, tally: &mut Tally) {
    let token = if req.specialist {
        &plan.specialist
    } else {
        &plan.doctor
    };
    let mut builder = client
        .patch(format!("{}{}", plan.bases[node], req.path))
        .bearer_auth(token);
    if let Some(body) = req.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    tally.sent += 1;
    let answer = match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(bytes) => Ok((status, bytes)),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    let at = Instant::now();
    let (status, body) = match answer {
        Ok((status, bytes)) => (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ),
        Err(e) if e.is_timeout() => {
            tally.timeouts += 1;
            tally.example(format!("timeout after {CLIENT_TIMEOUT:?}: {}", req.path));
            tally.samples.push((at, TIMED_OUT));
            return;
        }
        Err(_) => {
            tally.transport += 1;
            tally.samples.push((at, TRANSPORT_ERROR));
            // The node is down: do not spin on refused connections.
            tokio::time::sleep(Duration::from_millis(20)).await;
            return;
        }
    };
    tally.samples.push((at, status));
    let message = body["error"]["message"].as_str().unwrap_or_default();
    match status {
        200..=299 if req.action != Action::Violation => {
            let job = body["data"]["links"][0]["href"]
                .as_str()
                .and_then(|h| h.rsplit('/').next())
                .map(str::to_string);
            tally.acks.push(Ack {
                action: req.action,
                entity: req.entity,
                job,
                node,
            });
        }
        409 if message.contains(GENERIC_CONFLICT) => tally.retry_409 += 1,
        409 => tally.rule_409 += 1,
        503 => tally.unavailable += 1,
        500..=599 => {
            tally.other_5xx += 1;
            tally.example(format!("{status} {} {body}", req.path));
        }
        _ => {
            tally.unexpected_4xx += 1;
            tally.example(format!("{status} {} {body}", req.path));
        }
    }
}

/// Runs `clients` closed-loop clients until `stop` is set. Client `c` sends its `i`-th request to
/// node `(c + i) % nodes`, so every node gets an even share.
pub async fn run(plan: Arc<Plan>, clients: usize, stop: Arc<AtomicBool>) -> Tally {
    let client = client();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (plan, client, stop) = (plan.clone(), client.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut rng = rand::rngs::StdRng::from_entropy();
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let req = pick(&plan, &mut rng);
                let node = i % plan.bases.len();
                i += 1;
                send(&client, &plan, node, req, &mut tally).await;
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        if let Ok(tally) = t.await {
            all.merge(tally);
        }
    }
    all
}
