//! The OTP initialisation limit's claims (`otp_initializations`): one row per phone, the last
//! initialisation of a code for it (`crate::otp_limit` decides with them).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

#[async_trait]
pub trait OtpClaims: Send + Sync {
    /// Claims `phone_number` with `claim_id` unless its last initialisation is younger than
    /// `window`; true when this claim was written.
    async fn claim(
        &self,
        phone_number: &str,
        claim_id: Uuid,
        holder: Option<&str>,
        window: Duration,
    ) -> Result<bool, sqlx::Error>;

    /// The phone's last initialisation, with the time now on the clock that wrote it.
    async fn last(&self, phone_number: &str) -> Result<Option<LastClaim>, sqlx::Error>;

    /// Deletes the claim `claim_id` of `phone_number`, if it is still the phone's.
    async fn give_back(&self, phone_number: &str, claim_id: Uuid) -> Result<(), sqlx::Error>;
}

pub struct LastClaim {
    pub initialized_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub holder: Option<String>,
}

pub(super) const GIVE_BACK: &str =
    "DELETE FROM otp_initializations WHERE phone_number = $1 AND claim_id = $2";
