//! The OTP service's initialisation limit (`INIT_VERIFICATION_LIMIT`): a second code for the same
//! phone inside the window is refused with 429, whichever approval asks for it. The state is in
//! the database (`otp_initializations`), so every instance enforces one limit: a resend claims its
//! phone with one upsert that only succeeds when the phone's last initialisation is older than the
//! window, and gives the claim back when its command is then refused, so a refused resend never
//! blocks the phone.

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::store::OtpClaims;

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
    claims: Arc<dyn OtpClaims>,
    window: Duration,
}

/// Tries to claim a phone whose claim was given back between our upsert and our read.
const ATTEMPTS: usize = 3;

impl OtpInitLimit {
    pub fn new(claims: Arc<dyn OtpClaims>, window: Duration) -> Self {
        Self { claims, window }
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
            if self
                .claims
                .claim(phone_number, id, holder, self.window)
                .await?
            {
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
        let deleted = self.claims.give_back(&phone_number, id).await;
        if let Err(err) = deleted {
            tracing::warn!(error = %err, "could not give back an OTP initialisation claim");
        }
    }

    /// The phone's last initialisation: whole seconds left in its window (≤ 0 once it ended) and
    /// who made it.
    async fn last(&self, phone_number: &str) -> Result<Option<(u64, Option<String>)>, sqlx::Error> {
        let window = chrono::Duration::from_std(self.window).unwrap_or_default();
        let last = self.claims.last(phone_number).await?;
        Ok(last.map(|claim| {
            let left = (claim.initialized_at + window - claim.now).num_milliseconds();
            // Whole seconds, rounded up: a client that waits that long is never refused again.
            let secs = if left > 0 {
                (left as u64).div_ceil(1000)
            } else {
                0
            };
            (secs, claim.holder)
        }))
    }
}
