//! What a command carries into the append transaction besides its events: the idempotency record
//! and the job to create. cqrs-es's `execute` returns `()`, so the outcome (sequence, positions)
//! comes back the same way (a task-local, cqrs-es-notes §6.4).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use serde_json::Value;
use uuid::Uuid;

tokio::task_local! {
    pub static COMMAND_CONTEXT: Arc<CommandContext>;
}

/// A job created pending in the append transaction (ehealth-notes §1.4).
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

    /// The idempotency record and the job, on SQLite (on PostgreSQL they are part of the append
    /// statement).
    pub(crate) async fn write_sqlite(
        &self,
        conn: &mut sqlx::SqliteConnection,
        first: &SerializedEvent,
        last_sequence: i64,
    ) -> Result<(), sqlx::Error> {
        use crate::db::sqlite::{id, ts};
        if let Some((command_id, request_hash, response)) = &self.idempotency {
            sqlx::query(
                "INSERT INTO processed_commands (command_id, request_hash, aggregate_type, \
                 aggregate_id, last_sequence, response, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(command_id)
            .bind(request_hash)
            .bind(&first.aggregate_type)
            .bind(&first.aggregate_id)
            .bind(last_sequence)
            .bind(response.as_ref().map(sqlx::types::Json))
            .bind(ts(Utc::now()))
            .execute(&mut *conn)
            .await?;
        }
        if let Some(job) = &self.job {
            let now = ts(Utc::now());
            sqlx::query(
                "INSERT INTO jobs (id, legal_entity_id, user_id, action, aggregate_type, \
                 aggregate_id, eta, dedup_key, inserted_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
            )
            .bind(&job.id)
            .bind(id(job.legal_entity_id))
            .bind(id(job.user_id))
            .bind(job.action)
            .bind(&first.aggregate_type)
            .bind(&first.aggregate_id)
            .bind(ts(job.eta))
            .bind(&job.dedup_key)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
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
