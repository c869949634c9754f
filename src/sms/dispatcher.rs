//! Hands queued SMS to the gateway. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several
//! instances never send one message twice; a failed send is retried with backoff, and a failed
//! pass (the database went away) is logged and retried by [`Dispatcher::run`]. On SQLite (one
//! node, one dispatcher) the message is read, sent, and marked in a short write transaction, so
//! the single writer is never held while the gateway answers. An OTP message also finishes its
//! resend's job, is superseded by a newer code, or is given up at its deadline ([`otp_rules`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::types::Json;
use sqlx::Row;
use tokio::sync::Notify;
use uuid::Uuid;

use super::otp_rules::{self, JobEnd, Verdict, OTP_KIND};
use super::{Gateway, SmsGateway, SmsMessage};
use crate::db::sqlite::{id as text_id, ts};
use crate::db::{Db, Lite};
use crate::otp;

/// Messages sent per pass before the dispatcher looks at its wake-up and shutdown signals.
const BATCH: usize = 20;

pub struct Dispatcher {
    pub db: Db,
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

    /// Claims, sends and marks one due message in a transaction of its own: the claim and the
    /// `sent` mark commit together, so a crash (or a lost database) between the gateway's answer
    /// and the commit resends this one message under the same Idempotency-Key — never every
    /// message of a batch, which a provider that ignores the key would deliver twice.
    async fn send_next(&self) -> Result<bool, sqlx::Error> {
        match &self.db {
            Db::Postgres(pool) => self.send_next_postgres(pool).await,
            Db::Sqlite(lite) => self.send_next_sqlite(lite).await,
        }
    }

    /// The approval's current challenge, for an OTP message (its salt).
    fn approval_of(params: &Value) -> Option<Uuid> {
        params
            .get("approval_id")
            .and_then(Value::as_str)
            .and_then(|id| Uuid::parse_str(id).ok())
    }

    async fn send_next_sqlite(&self, lite: &Lite) -> Result<bool, sqlx::Error> {
        let now = chrono::Utc::now();
        let Some(row) = sqlx::query(
            "SELECT id, kind, phone_number, template, params, attempts, job_id, created_at \
             FROM sms_outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY created_at, source_position LIMIT 1",
        )
        .bind(ts(now))
        .fetch_optional(&lite.pool)
        .await?
        else {
            return Ok(false);
        };
        let id: uuid::fmt::Hyphenated = row.get("id");
        let id = id.into_uuid();
        let kind: String = row.get("kind");
        let attempts: i32 = row.get("attempts");
        let job_id: Option<String> = row.get("job_id");
        let params = row.get::<Json<Value>, _>("params").0;
        let created_at = chrono::DateTime::parse_from_rfc3339(row.get("created_at"))
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or(now);
        let deadline = created_at + self.send_timeout();
        let current_salt: Option<String> = match Self::approval_of(&params) {
            Some(approval) if kind == OTP_KIND => sqlx::query_scalar(
                "SELECT json_extract(document, '$.record.otp.salt') FROM approvals WHERE id = $1",
            )
            .bind(text_id(approval))
            .fetch_optional(&lite.pool)
            .await?
            .flatten(),
            _ => None,
        };
        let verdict = otp_rules::verdict(&kind, &params, current_salt.as_deref(), deadline <= now);
        let sent = match verdict {
            Verdict::Send => {
                let message = SmsMessage {
                    id,
                    phone_number: row.get("phone_number"),
                    text: self.render(row.get("template"), &params),
                };
                Some(self.gateway.send(&message).await)
            }
            _ => None,
        };
        let mut tx = lite.begin_write().await?;
        let end = match sent {
            None => {
                sqlx::query(
                    "UPDATE sms_outbox SET status = $2 WHERE id = $1 AND status = 'pending'",
                )
                .bind(text_id(id))
                .bind(verdict.sms_status())
                .execute(tx.conn())
                .await?;
                verdict.job_end()
            }
            Some(Ok(delivery)) => {
                sqlx::query(
                    "UPDATE sms_outbox SET status = 'sent', sent_at = $3, attempts = attempts + 1, \
                     delivered_text = $2, last_error = NULL WHERE id = $1",
                )
                .bind(text_id(id))
                .bind(delivery.recorded_text)
                .bind(ts(chrono::Utc::now()))
                .execute(tx.conn())
                .await?;
                Some(JobEnd::Processed)
            }
            Some(Err(err)) => {
                let backoff = 2_i64.saturating_pow(attempts.clamp(0, 10) as u32);
                tracing::warn!(sms_id = %id, attempts = attempts + 1, error = %err, "sms not sent, will retry");
                let mut next = chrono::Utc::now() + chrono::Duration::seconds(backoff);
                if kind == OTP_KIND {
                    next = next.min(deadline);
                }
                sqlx::query(
                    "UPDATE sms_outbox SET attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = $3 WHERE id = $1",
                )
                .bind(text_id(id))
                .bind(err.to_string())
                .bind(ts(next))
                .execute(tx.conn())
                .await?;
                None
            }
        };
        if let (Some(job), Some(end)) = (&job_id, &end) {
            otp_rules::finish_sqlite(tx.conn(), job, end).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn send_next_postgres(&self, pool: &sqlx::PgPool) -> Result<bool, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let timeout = self.otp_send_timeout.as_secs_f64();
        let Some(row) = sqlx::query(
            "SELECT id, kind, phone_number, template, params, attempts, job_id, \
                    created_at + make_interval(secs => $1) <= now() AS overdue \
             FROM sms_outbox WHERE status = 'pending' AND next_attempt_at <= now() \
             ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(timeout)
        .fetch_optional(&mut *tx)
        .await?
        else {
            tx.rollback().await?;
            return Ok(false);
        };
        let id: Uuid = row.get("id");
        let kind: String = row.get("kind");
        let attempts: i32 = row.get("attempts");
        let job_id: Option<String> = row.get("job_id");
        let params: Value = row.get("params");
        let current_salt: Option<String> = match Self::approval_of(&params) {
            Some(approval) if kind == OTP_KIND => sqlx::query_scalar(
                "SELECT document->'record'->'otp'->>'salt' FROM approvals WHERE id = $1",
            )
            .bind(approval)
            .fetch_optional(&mut *tx)
            .await?
            .flatten(),
            _ => None,
        };
        let verdict =
            otp_rules::verdict(&kind, &params, current_salt.as_deref(), row.get("overdue"));
        let end = if verdict != Verdict::Send {
            sqlx::query("UPDATE sms_outbox SET status = $2 WHERE id = $1")
                .bind(id)
                .bind(verdict.sms_status())
                .execute(&mut *tx)
                .await?;
            verdict.job_end()
        } else {
            let message = SmsMessage {
                id,
                phone_number: row.get("phone_number"),
                text: self.render(row.get("template"), &params),
            };
            match self.gateway.send(&message).await {
                Ok(delivery) => {
                    sqlx::query(
                        "UPDATE sms_outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1, \
                         delivered_text = $2, last_error = NULL WHERE id = $1",
                    )
                    .bind(id)
                    .bind(delivery.recorded_text)
                    .execute(&mut *tx)
                    .await?;
                    Some(JobEnd::Processed)
                }
                Err(err) => {
                    let backoff = 2_i64.saturating_pow(attempts.clamp(0, 10) as u32);
                    tracing::warn!(sms_id = %id, attempts = attempts + 1, error = %err, "sms not sent, will retry");
                    // An OTP message is retried until its deadline at most, and given up then.
                    sqlx::query(
                        "UPDATE sms_outbox SET attempts = attempts + 1, last_error = $2, \
                         next_attempt_at = CASE WHEN kind = $4 \
                           THEN least(now() + make_interval(secs => $3), created_at + make_interval(secs => $5)) \
                           ELSE now() + make_interval(secs => $3) END \
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(err.to_string())
                    .bind(backoff as f64)
                    .bind(OTP_KIND)
                    .bind(timeout)
                    .execute(&mut *tx)
                    .await?;
                    None
                }
            }
        };
        if let (Some(job), Some(end)) = (&job_id, &end) {
            otp_rules::finish_postgres(&mut tx, job, end).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    fn send_timeout(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.otp_send_timeout).unwrap_or(chrono::Duration::MAX)
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
