//! Hands queued SMS to the gateway, one message at a time: the outbox claims it, the gateway
//! sends it, the outbox marks it ([`crate::store::SmsOutbox`]: on PostgreSQL claim and mark in
//! one transaction, so several instances never send one message twice). A failed send is retried
//! with backoff, and a failed pass (the database went away) is logged and retried by
//! [`Dispatcher::run`]. An OTP message also finishes its resend's job, is superseded by a newer
//! code, or is given up at its deadline ([`otp_rules`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use super::otp_rules::{self, Verdict, OTP_KIND};
use super::{Gateway, SmsGateway, SmsMessage};
use crate::otp;
use crate::store::{JobEnd, SendOutcome, SmsOutbox};

/// Messages sent per pass before the dispatcher looks at its wake-up and shutdown signals.
const BATCH: usize = 20;

pub struct Dispatcher {
    pub outbox: Arc<dyn SmsOutbox>,
    pub gateway: Gateway,
    pub otp_key: Vec<u8>,
    /// How long an OTP message may keep failing before it is given up (`EHEALTH_OTP_SEND_TIMEOUT`).
    pub otp_send_timeout: Duration,
    pub wake: Arc<Notify>,
}

impl Dispatcher {
    fn render(&self, template: &str, params: &serde_json::Value) -> String {
        let param = |k: &str| {
            params
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        match template {
            "otp" => {
                let approval = Uuid::parse_str(&param("approval_id")).unwrap_or_default();
                otp::otp_text(&otp::derive_code(&self.otp_key, approval, &param("salt")))
            }
            "service_request_recalled" => {
                format!(
                    "Ваше направлення під номером {} було відкликано",
                    param("requisition")
                )
            }
            other => other.to_string(),
        }
    }

    /// Sends what is due, at most [`BATCH`] messages; returns how many it handled.
    #[tracing::instrument(name = "sms_pass", skip_all)]
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let mut handled = 0;
        while handled < BATCH && self.send_next().await? {
            handled += 1;
        }
        Ok(handled)
    }

    /// Claims, sends and marks one due message: the claim and the `sent` mark commit together,
    /// so a crash (or a lost database) between the gateway's answer and the commit resends this
    /// one message under the same Idempotency-Key — never every message of a batch, which a
    /// provider that ignores the key would deliver twice.
    async fn send_next(&self) -> Result<bool, sqlx::Error> {
        let Some(mut due) = self
            .outbox
            .claim_next(OTP_KIND, self.otp_send_timeout)
            .await?
        else {
            return Ok(false);
        };
        let message = due.message();
        let (id, kind, attempts) = (message.id, message.kind.clone(), message.attempts);
        let params = message.params.clone();
        let overdue = message.overdue;
        let current_salt = match Self::approval_of(&params) {
            Some(approval) if kind == OTP_KIND => due.current_salt(approval).await?,
            _ => None,
        };
        let verdict = otp_rules::verdict(&kind, &params, current_salt.as_deref(), overdue);
        let (outcome, end) = if verdict != Verdict::Send {
            (
                SendOutcome::Dropped(verdict.sms_status()),
                verdict.job_end(),
            )
        } else {
            let message = due.message();
            let sms = SmsMessage {
                id,
                phone_number: message.phone_number.clone(),
                text: self.render(&message.template, &params),
            };
            match self.gateway.send(&sms).await {
                Ok(delivery) => (
                    SendOutcome::Sent(delivery.recorded_text),
                    Some(JobEnd::Processed),
                ),
                Err(err) => {
                    let backoff = 2_u64.saturating_pow(attempts.clamp(0, 10) as u32);
                    tracing::warn!(sms_id = %id, attempts = attempts + 1, error = %err, "sms not sent, will retry");
                    let failed = SendOutcome::Failed {
                        error: err.to_string(),
                        backoff: Duration::from_secs(backoff),
                    };
                    (failed, None)
                }
            }
        };
        due.finish(outcome, end.as_ref()).await?;
        Ok(true)
    }

    /// The approval of an OTP message, whose current challenge decides whether it is sent.
    fn approval_of(params: &Value) -> Option<Uuid> {
        params
            .get("approval_id")
            .and_then(Value::as_str)
            .and_then(|id| Uuid::parse_str(id).ok())
    }

    pub async fn run(self, shutdown: tokio_util::sync::CancellationToken) {
        let mut spell = crate::workers::FailureSpell::new("sms");
        loop {
            match self.run_once().await {
                Ok(n) => {
                    spell.succeeded();
                    if n > 0 {
                        continue;
                    }
                }
                Err(err) => spell.failed(&err),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
