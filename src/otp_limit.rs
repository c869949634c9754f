//! The OTP service's initialisation limit (`INIT_VERIFICATION_LIMIT`): a second code for the same
//! phone inside the window is refused with 429, whichever approval asks for it. The state is in
//! the database (`otp_initializations`), so every instance enforces one limit: a resend claims its
//! phone with one upsert that only succeeds when the phone's last initialisation is older than the
//! window, and gives the claim back when its command is then refused, so a refused resend never
//! blocks the phone.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::sqlite::ts;
use crate::db::Db;

/// What a claim came to.
#[derive(Debug)]
pub enum Claim {
    /// The limit is off (a window of 0).
    Off,
    /// This request initialised the phone; give it back if the resend is not committed.
    Claimed { phone_number: String, id: Uuid },
    /// The phone was claimed by an earlier request with the same caller and Idempotency-Key,
    /// still in flight: this one is a retry and is answered as one.
    Retry,
    /// Inside the window: refused, with the whole seconds left until it ends (at least 1).
    Refused { retry_after: u64 },
}

#[derive(Clone)]
pub struct OtpInitLimit {
    db: Db,
    window: Duration,
}

/// Tries to claim a phone whose claim was given back between our upsert and our read.
const ATTEMPTS: usize = 3;

impl OtpInitLimit {
    pub fn new(db: Db, window: Duration) -> Self {
        Self { db, window }
    }

    /// The caller's digest in the claim: who sent it with which Idempotency-Key, if any.
    pub fn holder(client_id: Uuid, user_id: Uuid, idempotency_key: Option<&str>) -> Option<String> {
        let key = idempotency_key?;
        let digest = Sha256::digest(format!("{client_id}:{user_id}:{key}"));
        Some(hex::encode(digest))
    }

    /// Claims `phone_number` for a new code, unless it was initialised inside the window.
    pub async fn claim(
        &self,
        phone_number: &str,
        holder: Option<&str>,
    ) -> Result<Claim, sqlx::Error> {
        if self.window.is_zero() {
            return Ok(Claim::Off);
        }
        for _ in 0..ATTEMPTS {
            let id = Uuid::new_v4();
            if self.upsert(phone_number, id, holder).await? {
                return Ok(Claim::Claimed {
                    phone_number: phone_number.to_string(),
                    id,
                });
            }
            match self.last(phone_number).await? {
                Some((left, last_holder)) if left > 0 => {
                    return Ok(if holder.is_some() && last_holder.as_deref() == holder {
                        Claim::Retry
                    } else {
                        Claim::Refused { retry_after: left }
                    });
                }
                // Given back or just expired since the upsert: try again.
                _ => continue,
            }
        }
        // Claims that keep being given back under us: refuse for a second rather than loop.
        Ok(Claim::Refused { retry_after: 1 })
    }

    /// Whole seconds left in the phone's window, if it is inside one (read only).
    pub async fn seconds_left(&self, phone_number: &str) -> Result<Option<u64>, sqlx::Error> {
        if self.window.is_zero() {
            return Ok(None);
        }
        Ok(self
            .last(phone_number)
            .await?
            .map(|(left, _)| left)
            .filter(|left| *left > 0))
    }

    /// Gives a claim back (deletes the row it wrote); an expired claim is as good as none, so the
    /// earlier initialisation it replaced needs no restoring. Failing is logged, not answered: the
    /// claim then ends with its window.
    pub async fn give_back(&self, claim: Claim) {
        let Claim::Claimed { phone_number, id } = claim else {
            return;
        };
        const SQL: &str =
            "DELETE FROM otp_initializations WHERE phone_number = $1 AND claim_id = $2";
        let deleted = match &self.db {
            Db::Postgres(pool) => sqlx::query(SQL)
                .bind(&phone_number)
                .bind(id)
                .execute(pool)
                .await
                .map(drop),
            Db::Sqlite(lite) => match lite.begin_write().await {
                Ok(mut tx) => {
                    match sqlx::query(SQL)
                        .bind(&phone_number)
                        .bind(id.to_string())
                        .execute(tx.conn())
                        .await
                    {
                        Ok(_) => tx.commit().await,
                        Err(err) => Err(err),
                    }
                }
                Err(err) => Err(err),
            },
        };
        if let Err(err) = deleted {
            tracing::warn!(error = %err, "could not give back an OTP initialisation claim");
        }
    }

    /// True when this request's claim was written.
    async fn upsert(
        &self,
        phone_number: &str,
        id: Uuid,
        holder: Option<&str>,
    ) -> Result<bool, sqlx::Error> {
        let window = self.window.as_secs_f64();
        match &self.db {
            // The database's clock, so that instances whose clocks differ share one window.
            Db::Postgres(pool) => Ok(sqlx::query_scalar::<_, Uuid>(
                "INSERT INTO otp_initializations AS o (phone_number, initialized_at, claim_id, holder) \
                 VALUES ($1, now(), $2, $3) \
                 ON CONFLICT (phone_number) DO UPDATE SET initialized_at = excluded.initialized_at, \
                   claim_id = excluded.claim_id, holder = excluded.holder \
                 WHERE o.initialized_at <= excluded.initialized_at - make_interval(secs => $4) \
                 RETURNING claim_id",
            )
            .bind(phone_number)
            .bind(id)
            .bind(holder)
            .bind(window)
            .fetch_optional(pool)
            .await?
            .is_some()),
            Db::Sqlite(lite) => {
                let now = Utc::now();
                let cutoff = now - chrono::Duration::from_std(self.window).unwrap_or_default();
                let mut tx = lite.begin_write().await?;
                let written = sqlx::query_scalar::<_, String>(
                    "INSERT INTO otp_initializations (phone_number, initialized_at, claim_id, holder) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (phone_number) DO UPDATE SET initialized_at = excluded.initialized_at, \
                       claim_id = excluded.claim_id, holder = excluded.holder \
                     WHERE otp_initializations.initialized_at <= $5 \
                     RETURNING claim_id",
                )
                .bind(phone_number)
                .bind(ts(now))
                .bind(id.to_string())
                .bind(holder)
                .bind(ts(cutoff))
                .fetch_optional(tx.conn())
                .await?
                .is_some();
                tx.commit().await?;
                Ok(written)
            }
        }
    }

    /// The phone's last initialisation: whole seconds left in its window (≤ 0 once it ended) and
    /// who made it.
    async fn last(&self, phone_number: &str) -> Result<Option<(u64, Option<String>)>, sqlx::Error> {
        const SQL: &str =
            "SELECT initialized_at, holder FROM otp_initializations WHERE phone_number = $1";
        let window = chrono::Duration::from_std(self.window).unwrap_or_default();
        let row: Option<(DateTime<Utc>, DateTime<Utc>, Option<String>)> = match &self.db {
            Db::Postgres(pool) => {
                sqlx::query_as(
                    "SELECT initialized_at, now(), holder FROM otp_initializations \
                     WHERE phone_number = $1",
                )
                .bind(phone_number)
                .fetch_optional(pool)
                .await?
            }
            Db::Sqlite(lite) => sqlx::query_as::<_, (String, Option<String>)>(SQL)
                .bind(phone_number)
                .fetch_optional(&lite.pool)
                .await?
                .and_then(|(at, holder)| {
                    let at = DateTime::parse_from_rfc3339(&at).ok()?.with_timezone(&Utc);
                    Some((at, Utc::now(), holder))
                }),
        };
        Ok(row.map(|(initialized_at, now, holder)| {
            let left = (initialized_at + window - now).num_milliseconds();
            // Whole seconds, rounded up: a client that waits that long is never refused again.
            let secs = if left > 0 {
                (left as u64).div_ceil(1000)
            } else {
                0
            };
            (secs, holder)
        }))
    }
}
