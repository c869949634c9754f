//! The effects worker: a checkpointed subscriber of the ordered feed ([`crate::store::Feed`]).
//!
//! For each event, in order: Recall revokes the approvals made for the service request (through
//! their aggregate, idempotently), gives the service request's quantity back to the care plan
//! activity it is based on (through that aggregate, once per service request) and queues the
//! patient's SMS ([`super::recall`]); ResendOtp queues the OTP SMS, whose job the SMS dispatcher
//! finishes once the gateway accepted it (sms::otp_rules); every other event that belongs to a
//! job finishes it. The SMS rows, the job updates and the checkpoint commit together, so after a
//! crash the work is redone exactly once.

use std::sync::Arc;
use std::time::Duration;

use ehealth_projections::StoredEvent;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::give_back;
use super::recall::{self, Lookups};
use crate::commands::CommandBus;
use crate::reference::Reference;
use crate::store::{Effects, Feed, JobLink, NewSms};

pub const SUBSCRIBER: &str = "effects";
const BATCH: i64 = 500;

pub struct EffectsWorker {
    pub feed: Arc<dyn Feed>,
    pub bus: Arc<CommandBus>,
    pub reference: Reference,
    pub wake: Arc<Notify>,
    pub sms_wake: Arc<Notify>,
}

#[derive(Debug, thiserror::Error)]
pub enum EffectError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Command(String),
}

/// Passes start at least this far apart. A pass costs a transaction of about ten statements and a
/// WAL flush whatever its size; woken by every commit, the worker ran a pass for every one to
/// three events under load. Spaced, a pass takes what this long brought (≈ 60 events at
/// 6 000 actions/s), at the price of at most this much on a job's latency (the target is 100 ms
/// at p99). A commit after a quiet spell is still processed at once.
pub const PACE: Duration = Duration::from_millis(10);

/// How long one pass may take before it is abandoned and tried again.
const PASS_DEADLINE: Duration = Duration::from_secs(30);

impl EffectsWorker {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last_pass: Option<tokio::time::Instant> = None;
        let mut spell = super::FailureSpell::new("effects");
        loop {
            // Register interest before reading, so a commit between the read and the wait wakes us.
            let woken = self.wake.notified();
            if let Some(due) = last_pass.map(|at| at + PACE) {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
            last_pass = Some(tokio::time::Instant::now());
            // A pass whose database stopped answering is abandoned (its connection is then
            // tested, and closed if it does not answer) and tried again.
            let pass = tokio::time::timeout(PASS_DEADLINE, self.run_once())
                .await
                .unwrap_or_else(|_| Err(EffectError::Command("the pass ran out of time".into())));
            match pass {
                Ok(n) => {
                    spell.succeeded();
                    if n > 0 {
                        let metrics = self.bus.metrics();
                        metrics.effects_passes.inc();
                        metrics.effects_events.inc_by(n as u64);
                        continue;
                    }
                }
                Err(err) => spell.failed(&err),
            }
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Processes the next batch of the feed; returns how many events it consumed.
    #[tracing::instrument(name = "effects_pass", skip_all)]
    pub async fn run_once(&self) -> Result<usize, EffectError> {
        let Some(mut batch) = self.feed.next_batch(SUBSCRIBER, BATCH).await? else {
            return Ok(0);
        };
        // Everything planning reads, read at once for the whole batch (on PostgreSQL on the
        // batch's own transaction, which holds the checkpoint's lock and a transaction id, so it
        // must not wait on one query per event).
        let lookups = Lookups::read(batch.as_mut()).await?;
        let mut effects = Effects::default();
        for (_, event) in batch.events() {
            self.plan(event, &lookups, &mut effects).await?;
        }
        let consumed = batch.events().len();
        match batch.commit(&effects).await? {
            Some(queued_sms) => {
                if queued_sms {
                    self.sms_wake.notify_one();
                }
                Ok(consumed)
            }
            // Another pass moved the checkpoint meanwhile: its work stands, this one's is dropped.
            None => Ok(0),
        }
    }

    /// Decides the effects of one event. Recall's revocations run at once (they are commands on
    /// other aggregates); everything else is collected into `effects`.
    async fn plan(
        &self,
        event: &StoredEvent,
        lookups: &Lookups,
        effects: &mut Effects,
    ) -> Result<(), EffectError> {
        let job = event.metadata.get("job_id").and_then(Value::as_str);
        let entity_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
        match (event.aggregate_type.as_str(), event.event_type.as_str()) {
            ("ServiceRequest", "ServiceRequestRecalled") => {
                recall::revoke_approvals(&self.bus, event, lookups).await?;
                let recalled = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
                let record = lookups
                    .service_requests
                    .get(&recalled)
                    .and_then(|s| s.record.as_ref());
                give_back::return_quantity(&self.bus, event, record).await?;
                if let Some(sms) = recall::recall_sms(&self.reference, event, lookups).await? {
                    effects.sms.push(sms);
                }
                if let Some(job) = job {
                    effects
                        .finished
                        .push(link(job, "service_request", entity_id));
                }
            }
            ("ServiceRequest", "ServiceRequestReleased") => {
                if let Some(job) = job {
                    effects
                        .finished
                        .push(link(job, "service_request", entity_id));
                }
            }
            ("DeviceDispense", "DeviceDispenseStopped") => {
                if let Some(job) = job {
                    effects
                        .finished
                        .push(link(job, "device_dispense", entity_id));
                }
            }
            ("Approval", "ApprovalOtpResent") => {
                let resent = &event.payload["ApprovalOtpResent"];
                effects.sms.push(NewSms {
                    kind: "otp",
                    phone: resent["phone_number"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    template: "otp",
                    params: json!({ "approval_id": event.aggregate_id, "salt": resent["salt"] }),
                    source_position: event.global_position,
                    job_id: job.map(str::to_string),
                });
            }
            _ => {}
        }
        Ok(())
    }
}

/// A job finished by its event, linked to `entity`.
fn link(job: &str, entity: &'static str, entity_id: Uuid) -> JobLink {
    JobLink {
        job_id: job.to_string(),
        entity,
        entity_id,
    }
}

pub(super) fn meta_str(event: &StoredEvent, key: &str) -> String {
    event
        .metadata
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(super) fn meta_uuid(event: &StoredEvent, key: &str) -> Uuid {
    Uuid::parse_str(&meta_str(event, key)).unwrap_or_default()
}
