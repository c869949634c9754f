//! The SMS outbox on PostgreSQL. A message is claimed with `FOR UPDATE SKIP LOCKED`, so several
//! instances never send one message twice; the claim and the mark after sending commit together,
//! so a crash (or a lost database) between the gateway's answer and the commit resends this one
//! message under the same id — never every message of a batch.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::{jobs, read_models};
use crate::store::jobs::JobEnd;
use crate::store::sms_outbox::{Due, DueSms, NewSms, SendOutcome, SmsOutbox};

pub(crate) struct PgSmsOutbox(pub PgPool);

#[async_trait]
impl SmsOutbox for PgSmsOutbox {
    async fn claim_next(
        &self,
        otp_kind: &'static str,
        otp_send_timeout: Duration,
    ) -> Result<Option<Box<dyn DueSms>>, sqlx::Error> {
        let mut tx = self.0.begin().await?;
        let timeout = otp_send_timeout.as_secs_f64();
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
            return Ok(None);
        };
        let due = Due {
            id: row.get("id"),
            kind: row.get("kind"),
            phone_number: row.get("phone_number"),
            template: row.get("template"),
            params: row.get::<Value, _>("params"),
            attempts: row.get("attempts"),
            job_id: row.get("job_id"),
            overdue: row.get("overdue"),
        };
        Ok(Some(Box::new(Claimed {
            tx,
            due,
            otp_kind,
            timeout,
        })))
    }
}

/// A claimed message: its row stays locked by the claim's transaction until it is finished.
struct Claimed {
    tx: Transaction<'static, Postgres>,
    due: Due,
    otp_kind: &'static str,
    /// The OTP send timeout, in seconds.
    timeout: f64,
}

#[async_trait]
impl DueSms for Claimed {
    fn message(&self) -> &Due {
        &self.due
    }

    async fn current_salt(&mut self, approval: Uuid) -> Result<Option<String>, sqlx::Error> {
        read_models::current_salt(&mut self.tx, approval).await
    }

    async fn finish(
        mut self: Box<Self>,
        outcome: SendOutcome,
        job_end: Option<&JobEnd>,
    ) -> Result<(), sqlx::Error> {
        let id = self.due.id;
        match outcome {
            SendOutcome::Dropped(status) => {
                sqlx::query("UPDATE sms_outbox SET status = $2 WHERE id = $1")
                    .bind(id)
                    .bind(status)
                    .execute(&mut *self.tx)
                    .await?;
            }
            SendOutcome::Sent(recorded_text) => {
                sqlx::query(
                    "UPDATE sms_outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1, \
                     delivered_text = $2, last_error = NULL WHERE id = $1",
                )
                .bind(id)
                .bind(recorded_text)
                .execute(&mut *self.tx)
                .await?;
            }
            SendOutcome::Failed { error, backoff } => {
                // An OTP message is retried until its deadline at most, and given up then.
                sqlx::query(
                    "UPDATE sms_outbox SET attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = CASE WHEN kind = $4 \
                       THEN least(now() + make_interval(secs => $3), created_at + make_interval(secs => $5)) \
                       ELSE now() + make_interval(secs => $3) END \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(error)
                .bind(backoff.as_secs_f64())
                .bind(self.otp_kind)
                .bind(self.timeout)
                .execute(&mut *self.tx)
                .await?;
            }
        }
        if let (Some(job), Some(end)) = (&self.due.job_id, job_end) {
            jobs::finish(&mut self.tx, job, end).await?;
        }
        self.tx.commit().await
    }
}

/// Queues `sms` (a message already queued by its source event is left as it is); true when a
/// message was queued.
pub(super) async fn queue(conn: &mut PgConnection, sms: &[NewSms]) -> Result<bool, sqlx::Error> {
    if sms.is_empty() {
        return Ok(false);
    }
    let inserted = sqlx::query(
        "INSERT INTO sms_outbox (id, kind, phone_number, template, params, source_position, job_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[], $7::text[]) \
         ON CONFLICT (kind, source_position) DO NOTHING",
    )
    .bind(sms.iter().map(|_| Uuid::new_v4()).collect::<Vec<_>>())
    .bind(sms.iter().map(|m| m.kind).collect::<Vec<_>>())
    .bind(sms.iter().map(|m| m.phone.as_str()).collect::<Vec<_>>())
    .bind(sms.iter().map(|m| m.template).collect::<Vec<_>>())
    .bind(sms.iter().map(|m| &m.params).collect::<Vec<_>>())
    .bind(sms.iter().map(|m| m.source_position).collect::<Vec<_>>())
    .bind(sms.iter().map(|m| m.job_id.as_deref()).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() > 0)
}
