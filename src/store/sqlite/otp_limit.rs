//! OTP claims on SQLite (one node: the process's clock).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::sqlite::ts;
use crate::db::Lite;
use crate::store::otp_limit::{LastClaim, OtpClaims, GIVE_BACK};

pub(crate) struct SqliteOtpClaims(pub Lite);

#[async_trait]
impl OtpClaims for SqliteOtpClaims {
    async fn claim(
        &self,
        phone_number: &str,
        claim_id: Uuid,
        holder: Option<&str>,
        window: Duration,
    ) -> Result<bool, sqlx::Error> {
        let now = Utc::now();
        let cutoff = now - chrono::Duration::from_std(window).unwrap_or_default();
        let mut tx = self.0.begin_write().await?;
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
        .bind(claim_id.to_string())
        .bind(holder)
        .bind(ts(cutoff))
        .fetch_optional(tx.conn())
        .await?
        .is_some();
        tx.commit().await?;
        Ok(written)
    }

    async fn last(&self, phone_number: &str) -> Result<Option<LastClaim>, sqlx::Error> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT initialized_at, holder FROM otp_initializations WHERE phone_number = $1",
        )
        .bind(phone_number)
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(row.and_then(|(at, holder)| {
            let initialized_at = DateTime::parse_from_rfc3339(&at).ok()?.with_timezone(&Utc);
            Some(LastClaim {
                initialized_at,
                now: Utc::now(),
                holder,
            })
        }))
    }

    async fn give_back(&self, phone_number: &str, claim_id: Uuid) -> Result<(), sqlx::Error> {
        let mut tx = self.0.begin_write().await?;
        sqlx::query(GIVE_BACK)
            .bind(phone_number)
            .bind(claim_id.to_string())
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }
}
