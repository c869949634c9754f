//! Hands queued SMS to the gateway. Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several
//! instances never send one message twice; a failed send is retried with backoff, and a failed
//! pass (the database went away) is logged and retried by [`Dispatcher::run`]. On SQLite (one
//! node, one dispatcher) the message is read, sent, and marked in a short write transaction, so
//! the single writer is never held while the gateway answers.

use std::sync::Arc;
use std::time::Duration;

use sqlx::types::Json;
use sqlx::Row;
use tokio::sync::Notify;
use uuid::Uuid;

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

    async fn send_next_sqlite(&self, lite: &Lite) -> Result<bool, sqlx::Error> {
        let now = chrono::Utc::now();
        let Some(row) = sqlx::query(
            "SELECT id, phone_number, template, params, attempts FROM sms_outbox \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
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
        let attempts: i32 = row.get("attempts");
        let message = SmsMessage {
            id,
            phone_number: row.get("phone_number"),
            text: self.render(
                row.get("template"),
                &row.get::<Json<serde_json::Value>, _>("params").0,
            ),
        };
        let sent = self.gateway.send(&message).await;
        let mut tx = lite.begin_write().await?;
        match sent {
            Ok(delivery) => {
                sqlx::query(
                    "UPDATE sms_outbox SET status = 'sent', sent_at = $3, attempts = attempts + 1, \
                     delivered_text = $2, last_error = NULL WHERE id = $1",
                )
                .bind(text_id(id))
                .bind(delivery.recorded_text)
                .bind(ts(chrono::Utc::now()))
                .execute(tx.conn())
                .await?;
            }
            Err(err) => {
                let backoff = 2_i64.saturating_pow(attempts.clamp(0, 10) as u32);
                tracing::warn!(sms_id = %id, attempts = attempts + 1, error = %err, "sms not sent, will retry");
                sqlx::query(
                    "UPDATE sms_outbox SET attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = $3 WHERE id = $1",
                )
                .bind(text_id(id))
                .bind(err.to_string())
                .bind(ts(chrono::Utc::now() + chrono::Duration::seconds(backoff)))
                .execute(tx.conn())
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn send_next_postgres(&self, pool: &sqlx::PgPool) -> Result<bool, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let Some(row) = sqlx::query(
            "SELECT id, phone_number, template, params, attempts FROM sms_outbox \
             WHERE status = 'pending' AND next_attempt_at <= now() \
             ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            tx.rollback().await?;
            return Ok(false);
        };
        let id: Uuid = row.get("id");
        let attempts: i32 = row.get("attempts");
        let message = SmsMessage {
            id,
            phone_number: row.get("phone_number"),
            text: self.render(
                row.get("template"),
                &row.get::<serde_json::Value, _>("params"),
            ),
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
            }
            Err(err) => {
                let backoff = 2_i64.saturating_pow(attempts.clamp(0, 10) as u32);
                tracing::warn!(sms_id = %id, attempts = attempts + 1, error = %err, "sms not sent, will retry");
                sqlx::query(
                    "UPDATE sms_outbox SET attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
                )
                .bind(id)
                .bind(err.to_string())
                .bind(backoff as f64)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    pub async fn run(self, shutdown: tokio_util::sync::CancellationToken) {
        loop {
            match self.run_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "sms dispatcher pass failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}
