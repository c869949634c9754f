//! The effects worker: a checkpointed subscriber of the ordered feed.
//!
//! For each event, in order: Recall revokes the approvals made for the service request (through
//! their aggregate, idempotently) and queues the patient's SMS; ResendOtp queues the OTP SMS;
//! every event that belongs to a job finishes it. The SMS rows, the job updates and the checkpoint
//! commit in one transaction, so after a crash the work is redone exactly once.

use std::sync::Arc;
use std::time::Duration;

use ehealth_aggregates::approval::ApprovalCommand;
use ehealth_aggregates::{Approval, ServiceRequest};
use ehealth_projections::StoredEvent;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::commands::{CommandBus, CommandError, CommandMeta};
use crate::jobs::job_href;
use crate::reference::Reference;
use crate::store::{feed, CommandContext};

pub const SUBSCRIBER: &str = "effects";
const BATCH: i64 = 100;

pub struct EffectsWorker {
    pub pool: PgPool,
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

impl EffectsWorker {
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            // Register interest before reading, so a commit between the read and the wait wakes us.
            let woken = self.wake.notified();
            match self.run_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "effects pass failed; will retry"),
            }
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Processes the next batch of the feed; returns how many events it consumed.
    pub async fn run_once(&self) -> Result<usize, EffectError> {
        let mut tx = self.pool.begin().await?;
        let cursor = feed::lock_checkpoint(&mut tx, SUBSCRIBER).await?;
        let batch = feed::read_after(&mut tx, cursor, BATCH).await?;
        let Some((last, _)) = batch.last() else {
            tx.rollback().await?;
            return Ok(0);
        };
        let last = *last;
        let mut queued_sms = false;
        for (_, event) in &batch {
            queued_sms |= self.apply(&mut tx, event).await?;
        }
        feed::save_checkpoint(&mut tx, SUBSCRIBER, last).await?;
        tx.commit().await?;
        if queued_sms {
            self.sms_wake.notify_one();
        }
        Ok(batch.len())
    }

    /// Does the effects of one event; true when an SMS was queued.
    async fn apply(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<bool, EffectError> {
        let mut queued = false;
        match (event.aggregate_type.as_str(), event.event_type.as_str()) {
            ("ServiceRequest", "ServiceRequestRecalled") => {
                self.revoke_approvals(event).await?;
                queued = self.queue_recall_sms(conn, event).await?;
                finish_with_link(conn, event, "service_request").await?;
            }
            ("ServiceRequest", "ServiceRequestReleased") => {
                finish_with_link(conn, event, "service_request").await?;
            }
            ("DeviceDispense", "DeviceDispenseStopped") => {
                finish_with_link(conn, event, "device_dispense").await?;
            }
            ("Approval", "ApprovalOtpResent") => {
                queued = queue_otp_sms(conn, event).await?;
                finish_with_data(conn, event, json!("")).await?;
            }
            _ => {}
        }
        Ok(queued)
    }

    async fn revoke_approvals(&self, event: &StoredEvent) -> Result<(), EffectError> {
        let sr_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
        let approvals: Vec<Uuid> = sqlx::query_scalar(
            "SELECT id FROM approvals WHERE reason_service_request = $1 AND status IN ('new', 'active')",
        )
        .bind(sr_id)
        .fetch_all(&self.pool)
        .await?;
        let by = event.user_id().unwrap_or_default();
        let at = event
            .payload
            .pointer("/ServiceRequestRecalled/at")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or(event.recorded_at);
        for approval in approvals {
            let meta = CommandMeta {
                user_id: by,
                client_id: meta_uuid(event, "client_id"),
                request_id: meta_str(event, "request_id"),
                command_id: format!("revoke:{approval}:{}", event.global_position),
                correlation_id: meta_str(event, "correlation_id"),
                causation_id: meta_str(event, "command_id"),
                at,
                job_id: None,
            };
            let command = ApprovalCommand::Revoke {
                service_request_id: sr_id,
                by,
                at,
            };
            match self
                .bus
                .execute::<Approval>(approval, command, meta, CommandContext::default())
                .await
            {
                Ok(_) => {}
                Err(CommandError::Rejected(e)) => {
                    tracing::warn!(%approval, error = %e, "approval not revoked")
                }
                Err(e) => return Err(EffectError::Command(e.to_string())),
            }
        }
        Ok(())
    }

    /// The recall SMS goes to a patient who authenticates with OTP, unless the service request has a
    /// performer (ehealth-notes §2.3).
    async fn queue_recall_sms(
        &self,
        conn: &mut PgConnection,
        event: &StoredEvent,
    ) -> Result<bool, EffectError> {
        let sr_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
        let Some(doc) = ehealth_projections::load_document(conn, "service_requests", sr_id).await?
        else {
            return Ok(false);
        };
        let Some(sr) = serde_json::from_value::<ServiceRequest>(doc)
            .ok()
            .and_then(|s| s.record)
        else {
            return Ok(false);
        };
        if sr.other.get("performer").is_some_and(|p| !p.is_null()) {
            return Ok(false);
        }
        let Some(person) = self.reference.person(sr.patient_id).await? else {
            return Ok(false);
        };
        let Some(phone) = person
            .default_method()
            .filter(|m| m.kind == "OTP")
            .and_then(|m| m.phone_number.clone())
        else {
            return Ok(false);
        };
        let requisition = sr
            .other
            .get("requisition")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        queue_sms(
            conn,
            "service_request_recalled",
            &phone,
            "service_request_recalled",
            json!({ "requisition": requisition }),
            event.global_position,
        )
        .await
    }
}

fn meta_str(event: &StoredEvent, key: &str) -> String {
    event
        .metadata
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn meta_uuid(event: &StoredEvent, key: &str) -> Uuid {
    Uuid::parse_str(&meta_str(event, key)).unwrap_or_default()
}

async fn queue_sms(
    conn: &mut PgConnection,
    kind: &str,
    phone: &str,
    template: &str,
    params: Value,
    source_position: i64,
) -> Result<bool, EffectError> {
    let inserted = sqlx::query(
        "INSERT INTO sms_outbox (id, kind, phone_number, template, params, source_position) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, source_position) DO NOTHING",
    )
    .bind(Uuid::new_v4())
    .bind(kind)
    .bind(phone)
    .bind(template)
    .bind(params)
    .bind(source_position)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

async fn queue_otp_sms(conn: &mut PgConnection, event: &StoredEvent) -> Result<bool, EffectError> {
    let resent = &event.payload["ApprovalOtpResent"];
    let phone = resent["phone_number"].as_str().unwrap_or_default();
    let params = json!({ "approval_id": event.aggregate_id, "salt": resent["salt"] });
    queue_sms(conn, "otp", phone, "otp", params, event.global_position).await
}

async fn finish_with_link(
    conn: &mut PgConnection,
    event: &StoredEvent,
    entity: &str,
) -> Result<(), EffectError> {
    let Some(job_id) = event.metadata.get("job_id").and_then(Value::as_str) else {
        return Ok(());
    };
    let href = match entity {
        "service_request" | "device_dispense" => {
            let patient: Option<Uuid> =
                sqlx::query_scalar(&format!("SELECT patient_id FROM {entity}s WHERE id = $1"))
                    .bind(Uuid::parse_str(&event.aggregate_id).unwrap_or_default())
                    .fetch_optional(&mut *conn)
                    .await?;
            format!(
                "/api/patients/{}/{entity}s/{}",
                patient.unwrap_or_default(),
                event.aggregate_id
            )
        }
        _ => job_href(job_id),
    };
    sqlx::query(
        "UPDATE jobs SET status = 'processed', status_code = 200, links = $2, updated_at = now() \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(job_id)
    .bind(json!([{ "entity": entity, "href": href }]))
    .execute(conn)
    .await?;
    Ok(())
}

async fn finish_with_data(
    conn: &mut PgConnection,
    event: &StoredEvent,
    data: Value,
) -> Result<(), EffectError> {
    let Some(job_id) = event.metadata.get("job_id").and_then(Value::as_str) else {
        return Ok(());
    };
    sqlx::query(
        "UPDATE jobs SET status = 'processed', status_code = 200, response_data = $2, updated_at = now() \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(job_id)
    .bind(data)
    .execute(conn)
    .await?;
    Ok(())
}
