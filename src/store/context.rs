//! What a command carries into the append transaction besides its events: the idempotency record
//! and the job to create. cqrs-es's `execute` returns `()`, so the outcome (sequence, positions)
//! comes back the same way (a task-local).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

tokio::task_local! {
    pub static COMMAND_CONTEXT: Arc<CommandContext>;
}

/// A job created pending in the append transaction.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub legal_entity_id: Uuid,
    pub user_id: Uuid,
    pub action: &'static str,
    pub eta: DateTime<Utc>,
    /// The key of the job's command (`jobs::JobSpec::key`); `None` for a request with an
    /// Idempotency-Key, which is deduplicated by that key alone.
    pub dedup_key: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CommitOutcome {
    pub last_sequence: i64,
    pub positions: Vec<i64>,
}

#[derive(Debug, Default)]
pub struct CommandContext {
    /// `(command_id, request_hash, response)` when the request carried an Idempotency-Key.
    pub idempotency: Option<(String, String, Option<Value>)>,
    pub job: Option<NewJob>,
    outcome: Mutex<Option<CommitOutcome>>,
}

impl CommandContext {
    pub fn new(idempotency: Option<(String, String, Option<Value>)>, job: Option<NewJob>) -> Self {
        Self {
            idempotency,
            job,
            outcome: Mutex::new(None),
        }
    }

    pub(crate) fn record_outcome(&self, outcome: CommitOutcome) {
        if let Ok(mut slot) = self.outcome.lock() {
            *slot = Some(outcome);
        }
    }

    pub fn outcome(&self) -> Option<CommitOutcome> {
        self.outcome.lock().ok().and_then(|o| o.clone())
    }
}
