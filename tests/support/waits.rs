//! Waiting for the service's background work, never for a fixed time: a condition is polled
//! until it holds (or a generous deadline passes, which fails the test). "Nothing happened" is
//! asserted only once the workers are idle — every event processed by the effects worker, every
//! due SMS sent or given up, every job finished — so it is an observation, not a race.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::app::TestApp;
use super::database::count;
use super::service::{self, Db};

/// How long a wait may take before the test fails: generous, for debug builds on a busy machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `check` until it holds; returns whether it did within `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the workers of the service on `db` still have to do.
#[derive(Debug, PartialEq, Eq)]
pub struct Backlog {
    /// Events the effects worker has not processed.
    pub effects_lag: i64,
    /// SMS waiting in the outbox (due or retrying).
    pub pending_sms: i64,
    /// Jobs not finished.
    pub pending_jobs: i64,
}

impl Backlog {
    pub async fn of(db: &Db) -> Backlog {
        Backlog {
            effects_lag: service::subscriber_lag(db, "effects").await,
            pending_sms: count(
                db,
                "SELECT count(*) FROM sms_outbox WHERE status = 'pending'",
            )
            .await,
            pending_jobs: count(db, "SELECT count(*) FROM jobs WHERE status = 'pending'").await,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self
            == Backlog {
                effects_lag: 0,
                pending_sms: 0,
                pending_jobs: 0,
            }
    }
}

/// Waits until the workers of the service on `db` have nothing left to do: the effects worker
/// has processed every event (so every SMS and give-back it would queue is queued), the SMS
/// dispatcher has settled every message, and every job is finished. Needs a node with workers.
pub async fn workers_idle(db: &Db) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let backlog = Backlog::of(db).await;
        if backlog.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the workers are still busy after {PATIENCE:?}: {backlog:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the effects worker has processed every event of the log (SMS and jobs may still
/// be on their way): for a test that holds jobs pending on purpose.
pub async fn effects_idle(db: &Db) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let lag = service::subscriber_lag(db, "effects").await;
        if lag == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the effects worker is still {lag} events behind"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// How many events the effects worker has not processed yet.
    pub async fn effects_lag(&self) -> i64 {
        service::subscriber_lag(&self.db, "effects").await
    }

    /// See [`workers_idle`].
    pub async fn workers_idle(&self) {
        workers_idle(&self.db).await
    }

    /// See [`effects_idle`].
    pub async fn effects_idle(&self) {
        effects_idle(&self.db).await
    }

    /// Waits until `n` SMS have been delivered and the workers are idle, and returns every SMS of
    /// the outbox: what "exactly `n` SMS" is asserted on.
    pub async fn settled_sms(&self, n: usize) -> Vec<Value> {
        self.wait_sms_sent(n).await;
        self.workers_idle().await;
        self.sms().await
    }

    /// Waits until `n` SMS have been delivered and returns every SMS of the outbox.
    pub async fn wait_sms_sent(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let sms = self.sms().await;
            if sms.iter().filter(|s| s["status"] == "sent").count() >= n {
                return sms;
            }
            assert!(Instant::now() < deadline, "{n} SMS were not sent: {sms:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
