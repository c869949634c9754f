//! OTP claims on PostgreSQL, timed by the database's clock, so that instances whose clocks differ
//! share one window.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::store::otp_limit::{LastClaim, OtpClaims, GIVE_BACK};

pub(crate) struct PgOtpClaims(pub PgPool);

#[async_trait]
impl OtpClaims for PgOtpClaims {
    async fn claim(
        &self,
        phone_number: &str,
        claim_id: Uuid,
        holder: Option<&str>,
        window: Duration,
    ) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query_scalar::<_, Uuid>(
            "INSERT INTO otp_initializations AS o (phone_number, initialized_at, claim_id, holder) \
             VALUES ($1, now(), $2, $3) \
             ON CONFLICT (phone_number) DO UPDATE SET initialized_at = excluded.initialized_at, \
               claim_id = excluded.claim_id, holder = excluded.holder \
             WHERE o.initialized_at <= excluded.initialized_at - make_interval(secs => $4) \
             RETURNING claim_id",
        )
        .bind(phone_number)
        .bind(claim_id)
        .bind(holder)
        .bind(window.as_secs_f64())
        .fetch_optional(&self.0)
        .await?
        .is_some())
    }

    async fn last(&self, phone_number: &str) -> Result<Option<LastClaim>, sqlx::Error> {
        let row: Option<(DateTime<Utc>, DateTime<Utc>, Option<String>)> = sqlx::query_as(
            "SELECT initialized_at, now(), holder FROM otp_initializations \
             WHERE phone_number = $1",
        )
        .bind(phone_number)
        .fetch_optional(&self.0)
        .await?;
        Ok(row.map(|(initialized_at, now, holder)| LastClaim {
            initialized_at,
            now,
            holder,
        }))
    }

    async fn give_back(&self, phone_number: &str, claim_id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query(GIVE_BACK)
            .bind(phone_number)
            .bind(claim_id)
            .execute(&self.0)
            .await
            .map(drop)
    }
}
