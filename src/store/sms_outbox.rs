//! The SMS outbox (`sms_outbox`): messages queued by the effects worker in its pass's transaction
//! ([`super::Effects`]) and handed to the gateway by the dispatcher, one at a time: a message is
//! claimed, sent, and marked in a transaction of its own ([`DueSms::finish`]).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use super::jobs::JobEnd;

/// An SMS to queue.
pub struct NewSms {
    pub kind: &'static str,
    pub phone: String,
    pub template: &'static str,
    pub params: Value,
    /// The event that queued it: with `kind`, what makes queueing it idempotent.
    pub source_position: i64,
    /// The job the message finishes (a resend's), if any.
    pub job_id: Option<String>,
}

#[async_trait]
pub trait SmsOutbox: Send + Sync {
    /// Claims the next message due, if any. A message of `otp_kind` queued more than
    /// `otp_send_timeout` ago is overdue.
    async fn claim_next(
        &self,
        otp_kind: &'static str,
        otp_send_timeout: Duration,
    ) -> Result<Option<Box<dyn DueSms>>, sqlx::Error>;
}

/// A claimed message.
#[async_trait]
pub trait DueSms: Send {
    fn message(&self) -> &Due;

    /// The salt of the current OTP challenge of `approval` (read where the claim is held).
    async fn current_salt(&mut self, approval: Uuid) -> Result<Option<String>, sqlx::Error>;

    /// Marks the message with `outcome` and ends its job as `job_end` says, together.
    async fn finish(
        self: Box<Self>,
        outcome: SendOutcome,
        job_end: Option<&JobEnd>,
    ) -> Result<(), sqlx::Error>;
}

/// A message due for sending.
pub struct Due {
    pub id: Uuid,
    pub kind: String,
    pub phone_number: String,
    pub template: String,
    pub params: Value,
    /// Attempts so far.
    pub attempts: i32,
    pub job_id: Option<String>,
    /// Past its send deadline (OTP messages).
    pub overdue: bool,
}

/// What became of a due message.
pub enum SendOutcome {
    /// Not sent, and never will be: its final status.
    Dropped(&'static str),
    /// The gateway accepted it; the text it recorded, if it keeps one.
    Sent(Option<String>),
    /// The gateway refused it: retried after `backoff` (an OTP message at its deadline at the
    /// latest).
    Failed { error: String, backoff: Duration },
}
