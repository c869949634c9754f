//! Idempotency: the commands processed under an Idempotency-Key (`processed_commands`), so that a
//! retried request gets the first answer. The record itself is written by the append, in the
//! commit's transaction ([`super::EventLog::append`]); here it is read, and the answer of a sync
//! action is stored on it afterwards.

use async_trait::async_trait;
use serde_json::Value;

#[async_trait]
pub trait Idempotency: Send + Sync {
    /// The command processed under `command_id`, if any.
    async fn processed(&self, command_id: &str) -> Result<Option<Processed>, sqlx::Error>;

    /// Stores the answer to give a retry of `command_id`.
    async fn remember_response(&self, command_id: &str, response: Value)
        -> Result<(), sqlx::Error>;
}

/// A processed command: the fingerprint of its request and the answer stored for its retries.
pub struct Processed {
    pub request_hash: String,
    pub response: Option<Value>,
}

pub(super) const PROCESSED: &str =
    "SELECT request_hash, response FROM processed_commands WHERE command_id = $1";

pub(super) const REMEMBER_RESPONSE: &str =
    "UPDATE processed_commands SET response = $2 WHERE command_id = $1";
