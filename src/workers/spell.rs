//! A background worker's failures, logged once per spell: the first failure as a warning, the
//! recovery as information, the retries in between only at debug level (an unreachable database
//! would otherwise write a warning every few hundred milliseconds per worker).

use std::fmt::Display;
use std::time::Instant;

pub(crate) struct FailureSpell {
    worker: &'static str,
    since: Option<Instant>,
}

impl FailureSpell {
    pub fn new(worker: &'static str) -> Self {
        Self {
            worker,
            since: None,
        }
    }

    pub fn failed(&mut self, error: &dyn Display) {
        if self.since.is_none() {
            self.since = Some(Instant::now());
            tracing::warn!(worker = self.worker, error = %error, "worker pass failed; retrying");
        } else {
            tracing::debug!(worker = self.worker, error = %error, "worker pass failed again");
        }
    }

    pub fn succeeded(&mut self) {
        if let Some(since) = self.since.take() {
            tracing::info!(
                worker = self.worker,
                failing_for_ms = since.elapsed().as_millis() as u64,
                "worker passes succeed again"
            );
        }
    }
}
