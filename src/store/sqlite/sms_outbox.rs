//! The SMS outbox on SQLite (one node, one dispatcher): a message is read, sent, and marked in a
//! short write transaction, so the single writer is never held while the gateway answers.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{Row, SqliteConnection};
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use super::{jobs, read_models};
use crate::db::sqlite::{id, ts};
use crate::db::Lite;
use crate::store::jobs::JobEnd;
use crate::store::sms_outbox::{Due, DueSms, NewSms, SendOutcome, SmsOutbox};

pub(crate) struct SqliteSmsOutbox(pub Lite);

#[async_trait]
impl SmsOutbox for SqliteSmsOutbox {
    async fn claim_next(
        &self,
        otp_kind: &'static str,
        otp_send_timeout: Duration,
    ) -> Result<Option<Box<dyn DueSms>>, sqlx::Error> {
        let now = Utc::now();
        let Some(row) = sqlx::query(
            "SELECT id, kind, phone_number, template, params, attempts, job_id, created_at \
             FROM sms_outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY created_at, source_position LIMIT 1",
        )
        .bind(ts(now))
        .fetch_optional(&self.0.pool)
        .await?
        else {
            return Ok(None);
        };
        let created_at = DateTime::parse_from_rfc3339(row.get("created_at"))
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        let timeout = chrono::Duration::from_std(otp_send_timeout).unwrap_or(chrono::Duration::MAX);
        let deadline = created_at + timeout;
        let due = Due {
            id: row.get::<Hyphenated, _>("id").into_uuid(),
            kind: row.get("kind"),
            phone_number: row.get("phone_number"),
            template: row.get("template"),
            params: row.get::<Json<Value>, _>("params").0,
            attempts: row.get("attempts"),
            job_id: row.get("job_id"),
            overdue: deadline <= now,
        };
        Ok(Some(Box::new(Read {
            lite: self.0.clone(),
            due,
            otp_kind,
            deadline,
        })))
    }
}

/// A message read for sending.
struct Read {
    lite: Lite,
    due: Due,
    otp_kind: &'static str,
    /// When an OTP message is given up.
    deadline: DateTime<Utc>,
}

#[async_trait]
impl DueSms for Read {
    fn message(&self) -> &Due {
        &self.due
    }

    async fn current_salt(&mut self, approval: Uuid) -> Result<Option<String>, sqlx::Error> {
        read_models::current_salt(&mut *self.lite.pool.acquire().await?, approval).await
    }

    async fn finish(
        self: Box<Self>,
        outcome: SendOutcome,
        job_end: Option<&JobEnd>,
    ) -> Result<(), sqlx::Error> {
        let message = id(self.due.id);
        let mut tx = self.lite.begin_write().await?;
        match outcome {
            SendOutcome::Dropped(status) => {
                sqlx::query(
                    "UPDATE sms_outbox SET status = $2 WHERE id = $1 AND status = 'pending'",
                )
                .bind(message)
                .bind(status)
                .execute(tx.conn())
                .await?;
            }
            SendOutcome::Sent(recorded_text) => {
                sqlx::query(
                    "UPDATE sms_outbox SET status = 'sent', sent_at = $3, attempts = attempts + 1, \
                     delivered_text = $2, last_error = NULL WHERE id = $1",
                )
                .bind(message)
                .bind(recorded_text)
                .bind(ts(Utc::now()))
                .execute(tx.conn())
                .await?;
            }
            SendOutcome::Failed { error, backoff } => {
                let mut next = Utc::now() + chrono::Duration::from_std(backoff).unwrap_or_default();
                if self.due.kind == self.otp_kind {
                    next = next.min(self.deadline);
                }
                sqlx::query(
                    "UPDATE sms_outbox SET attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = $3 WHERE id = $1",
                )
                .bind(message)
                .bind(error)
                .bind(ts(next))
                .execute(tx.conn())
                .await?;
            }
        }
        if let (Some(job), Some(end)) = (&self.due.job_id, job_end) {
            jobs::finish(tx.conn(), job, end).await?;
        }
        tx.commit().await
    }
}

/// Queues `sms` (a message already queued by its source event is left as it is), one statement
/// per message; true when a message was queued.
pub(super) async fn queue(
    conn: &mut SqliteConnection,
    sms: &[NewSms],
    now: &str,
) -> Result<bool, sqlx::Error> {
    let mut queued = false;
    for m in sms {
        let inserted = sqlx::query(
            "INSERT INTO sms_outbox (id, kind, phone_number, template, params, source_position, \
             created_at, next_attempt_at, job_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
             ON CONFLICT (kind, source_position) DO NOTHING",
        )
        .bind(id(Uuid::new_v4()))
        .bind(m.kind)
        .bind(&m.phone)
        .bind(m.template)
        .bind(Json(&m.params))
        .bind(m.source_position)
        .bind(now)
        .bind(&m.job_id)
        .execute(&mut *conn)
        .await?;
        queued |= inserted.rows_affected() > 0;
    }
    Ok(queued)
}
