//! Whether the database can take writes now, as the writes themselves and the readiness probe
//! find it. A probe of `SELECT 1` says nothing of a full disk, a read-only database or a WAL that
//! cannot grow: the writes do. Every command's outcome and every probe is recorded here;
//! `/health/ready` answers 503 while writes fail, and the state's changes are logged once each
//! (one line when writes start failing, one when they succeed again), never once per request.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// After the last failed write, readiness stays 503 at least this long, even with no write to
/// try meanwhile (a node taken out of rotation gets none); then it lets traffic try again.
pub const FAILURE_HOLD: Duration = Duration::from_secs(5);

#[derive(Debug)]
enum State {
    Healthy,
    Failing {
        since: Instant,
        last: Instant,
        reason: String,
    },
}

#[derive(Debug)]
pub struct DbHealth {
    state: Mutex<State>,
    hold: Duration,
}

impl Default for DbHealth {
    fn default() -> Self {
        Self::with_hold(FAILURE_HOLD)
    }
}

impl DbHealth {
    pub fn with_hold(hold: Duration) -> Self {
        Self {
            state: Mutex::new(State::Healthy),
            hold,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A write committed.
    pub fn write_succeeded(&self) {
        let mut state = self.lock();
        if let State::Failing { since, .. } = &*state {
            tracing::info!(
                failing_for_ms = since.elapsed().as_millis() as u64,
                "database writes succeed again"
            );
            *state = State::Healthy;
        }
    }

    /// A write failed because the database cannot take it now (unreachable, full, read-only,
    /// out of time).
    pub fn write_failed(&self, reason: &str) {
        let mut state = self.lock();
        let now = Instant::now();
        match &mut *state {
            State::Healthy => {
                tracing::warn!(reason, "database writes are failing");
                *state = State::Failing {
                    since: now,
                    last: now,
                    reason: reason.to_string(),
                };
            }
            State::Failing {
                last, reason: r, ..
            } => {
                *last = now;
                if r != reason {
                    r.clear();
                    r.push_str(reason);
                }
            }
        }
    }

    /// Why writes are failing, while the last failure is recent (within the hold).
    pub fn failing(&self) -> Option<String> {
        match &*self.lock() {
            State::Failing { last, reason, .. } if last.elapsed() < self.hold => {
                Some(reason.clone())
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_makes_it_failing_until_a_write_succeeds() {
        let health = DbHealth::default();
        assert_eq!(health.failing(), None);
        health.write_failed("disk full");
        assert_eq!(health.failing().as_deref(), Some("disk full"));
        health.write_failed("read-only");
        assert_eq!(health.failing().as_deref(), Some("read-only"));
        health.write_succeeded();
        assert_eq!(health.failing(), None);
    }

    #[test]
    fn without_further_writes_a_failure_counts_only_for_the_hold() {
        let health = DbHealth::with_hold(Duration::from_millis(30));
        health.write_failed("disk full");
        assert!(health.failing().is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(health.failing(), None);
        // A new failure starts the hold again.
        health.write_failed("disk full");
        assert!(health.failing().is_some());
    }
}
